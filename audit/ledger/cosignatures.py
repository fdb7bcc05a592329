"""Witnesses' cosignatures of checkpoints: the policy, storing them, and counting them.

Why: a signed checkpoint proves what the bus said, not that it said the same to
everyone. A witness (another agency, an outside auditor) cosigns a checkpoint only after
checking it extends the last one it cosigned (`audit.witness`), so N cosignatures mean
N independent parties saw one history. C2SP tlog-cosignature v1 (`audit.notes`).

What a caller must know:

* `WitnessPolicy` is the deployment's rule: the witnesses' verifier keys and how many
  cosignatures each checkpoint with a signed note needs (`catalog/ledger.yaml`, read by
  `audit.witness.settings`). Checkpoints taken before notes existed need none.
* `record_cosignatures` stores only lines that verify with a known witness key over the
  checkpoint's own note body; `cosignature_problems` re-checks every line (stored or
  shipped in a bundle): a line from a known witness that does not verify is a forgery,
  a line from an unknown key is ignored (the C2SP rule), and a checkpoint with fewer
  valid cosignatures than required is reported by number.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from audit.ledger.checkpoints import Checkpoint
from audit.notes import NoteKey, NoteSignature, verify_cosignature
from audit.tables import ledger_cosignatures
from govbus.errors import BadInput
from govbus.instants import utc_now


@dataclass(frozen=True)
class WitnessPolicy:
    """The witnesses a deployment trusts (cosignature keys) and the cosignatures it requires."""

    origin: str
    witnesses: tuple[NoteKey, ...] = ()
    required: int = 0

    def to_json(self) -> dict[str, object]:
        """As written in a bundle's manifest: `{required, keys: [verifier keys]}`."""
        return {"required": self.required, "keys": [key.vkey() for key in self.witnesses]}


def read_cosignatures(conn: sa.Connection) -> dict[int, list[NoteSignature]]:
    """Stored cosignature lines by checkpoint number (not verified)."""
    found: dict[int, list[NoteSignature]] = {}
    query = sa.select(ledger_cosignatures).order_by(
        ledger_cosignatures.c.checkpoint_number, ledger_cosignatures.c.witness
    )
    for row in conn.execute(query):
        line = NoteSignature(row.witness, base64.b64decode(row.signature))
        found.setdefault(row.checkpoint_number, []).append(line)
    return found


def record_cosignatures(
    conn: sa.Connection,
    checkpoint: Checkpoint,
    lines: Sequence[NoteSignature],
    witnesses: Sequence[NoteKey],
) -> list[str]:
    """Store the lines that are valid cosignatures of `checkpoint` by `witnesses`; names of the new ones.

    BadInput when no line is a valid cosignature by a declared witness (nothing stored).
    A cosignature already recorded is skipped (recording is idempotent).
    """
    body = checkpoint.note_body
    if body is None:
        raise BadInput(
            f"checkpoint {checkpoint.number} has no signed note to cosign",
            where=f"checkpoint {checkpoint.number}",
        )
    valid = [
        (line, key, stamp)
        for line in lines
        for key in witnesses
        if (stamp := verify_cosignature(body, line, key)) is not None
    ]
    if not valid:
        raise BadInput(
            f"no valid cosignature of checkpoint {checkpoint.number} by a witness the catalog declares",
            where="cosignature",
            hint="check the witness's key in catalog/ledger.yaml and that it cosigned this checkpoint",
        )
    held = {(name, digest) for name, digest in _stored_keys(conn, checkpoint.number)}
    added: list[str] = []
    for line, key, stamp in valid:
        if (key.name, key.hash.hex()) in held:
            continue
        conn.execute(
            ledger_cosignatures.insert().values(
                checkpoint_number=checkpoint.number,
                witness=key.name,
                key_hash=key.hash.hex(),
                cosigned_at=stamp,
                signature=base64.b64encode(line.value).decode("ascii"),
                recorded_at=utc_now(),
            )
        )
        held.add((key.name, key.hash.hex()))
        added.append(key.name)
    return added


def _stored_keys(conn: sa.Connection, number: int) -> list[tuple[str, str]]:
    table = ledger_cosignatures
    query = sa.select(table.c.witness, table.c.key_hash).where(table.c.checkpoint_number == number)
    return [(row.witness, row.key_hash) for row in conn.execute(query)]


def cosignature_problems(
    checkpoints: Sequence[Checkpoint],
    cosignatures: Mapping[int, Sequence[NoteSignature]],
    policy: WitnessPolicy,
) -> list[tuple[int, str]]:
    """Forged cosignatures and checkpoints short of `policy.required`, by checkpoint number."""
    problems: list[tuple[int, str]] = []
    for checkpoint in checkpoints:
        body = checkpoint.note_body
        lines = cosignatures.get(checkpoint.number, ())
        if body is None:
            if lines:
                problems.append((checkpoint.number, "carries cosignatures but no signed note"))
            continue
        valid: set[tuple[str, bytes]] = set()
        for line in lines:
            known = [key for key in policy.witnesses if key.name == line.name and key.hash == line.value[:4]]
            if not known:
                continue  # an unknown witness's line is ignored, never counted
            if verify_cosignature(body, line, known[0]) is None:
                problems.append(
                    (checkpoint.number, f"cosignature of witness {line.name} does not verify (forged?)")
                )
            else:
                valid.add((known[0].name, known[0].hash))
        if len(valid) < policy.required:
            problems.append(
                (
                    checkpoint.number,
                    f"has {len(valid)} of the {policy.required} witness cosignature(s) required",
                )
            )
    return problems
