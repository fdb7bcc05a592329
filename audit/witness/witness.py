"""A witness: its own key and state, and cosigning only checkpoints that extend what it cosigned.

What a caller (the `govbus audit witness` commands) must know:

* `Witness.init(key_file, name)` writes a new Ed25519 private key (PKCS#8 PEM, mode
  0600) and the state file next to it (`<key file>.state.json`): the witness's key name
  and, per log origin, the last checkpoint it cosigned (number, size, hex root). The key
  never goes into the catalog or git; the catalog gets `verifier_key` only.
* `cosign_bundle(bundle, trusted_keys)` verifies the bundle against the bus's keys it
  trusts (chain, signatures, checkpoints, notes), then refuses (BadInput, nothing
  written) a newest checkpoint that is older or smaller than the last one it cosigned
  (rolled back) or whose tree does not extend it (an RFC 9162 consistency proof from the
  held size fails: a fork, history rewritten). Otherwise it cosigns every checkpoint
  with a note newer than the held one, saves the new state, and returns them.
* `cosign_consistency(document, trusted_keys)` does the same from a `govbus audit
  consistency --from HELD --to N` document alone (no bundle): its `old` must be exactly
  the checkpoint held, its proof must verify, and `new` (with its note) is cosigned.
* `read_cosigned_file`/`write_cosigned_file`: what travels back to the bus, one JSON
  line per checkpoint: `{"number", "note"}` where `note` is the C2SP note with the bus's
  signature line and the witness's cosignature line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.bundles import CHECKPOINTS, ENTRIES, verify_bundle
from audit.ledger.checkpoints import Checkpoint, note_problem
from audit.ledger.cosignatures import WitnessPolicy
from audit.ledger.tree import LedgerTree, entry_leaf_hash, verify_consistency
from audit.notes import COSIGNATURE_TYPE, NoteKey, NoteSignature, check_key_name, cosign, parse_note
from audit.proofs import check_consistency_document
from govbus.errors import BadConfiguration, BadInput, GovBusError
from govbus.instants import utc_now

STATE_SUFFIX = ".state.json"


@dataclass(frozen=True)
class CosignedCheckpoint:
    """A checkpoint's number and its note carrying the witness's cosignature line."""

    number: int
    note: str

    @property
    def cosignatures(self) -> list[NoteSignature]:
        """The note's signature lines (the bus's first, then cosignatures)."""
        return parse_note(self.note)[1]


class Witness:
    """A witness loaded from its key file and state file."""

    def __init__(self, key_file: Path, private: Ed25519PrivateKey, state: dict[str, Any]) -> None:
        self.key_file = Path(key_file)
        self._private = private
        self._state = state
        self.name: str = state["name"]

    def __repr__(self) -> str:
        return f"Witness(name={self.name!r})"

    @property
    def key(self) -> NoteKey:
        """The witness's public cosignature key (give `key.vkey()` to the bus's catalog)."""
        return NoteKey(self.name, COSIGNATURE_TYPE, self._private.public_key())

    @property
    def state_file(self) -> Path:
        """Where the last cosigned checkpoint per log is kept."""
        return state_path(self.key_file)

    def held(self, origin: str) -> dict[str, Any] | None:
        """The last checkpoint cosigned for `origin` ({number, size, root}), or None."""
        held = self._state["logs"].get(origin)
        return dict(held) if held else None

    @classmethod
    def init(cls, key_file: Path, name: str) -> Witness:
        """Create the key and the empty state; BadInput if the key file exists."""
        key_file = Path(key_file)
        check_key_name(name, where="--name")
        if key_file.exists() or state_path(key_file).exists():
            raise BadInput(
                "exists already: a witness keeps its key", where=str(key_file), hint="name a new file"
            )
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        witness = cls(key_file, private, {"name": name, "logs": {}})
        witness._save()
        return witness

    @classmethod
    def load(cls, key_file: Path) -> Witness:
        """The witness of `key_file` and its state; BadConfiguration naming the file otherwise."""
        key_file = Path(key_file)
        hint = "create one with `govbus audit witness init --key-file FILE --name NAME`"
        try:
            private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            state = json.loads(state_path(key_file).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError) as exc:
            raise BadConfiguration(
                "cannot read the witness key or its state file", where=str(key_file), hint=hint
            ) from exc
        if not isinstance(private, Ed25519PrivateKey) or not isinstance(state, dict):
            raise BadConfiguration("is not a witness's Ed25519 key and state", where=str(key_file), hint=hint)
        if not isinstance(state.get("name"), str) or not isinstance(state.get("logs"), dict):
            raise BadConfiguration("the state file is malformed", where=str(state_path(key_file)), hint=hint)
        return cls(key_file, private, state)

    def _save(self) -> None:
        path = self.state_file
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self._state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def cosign_bundle(
        self, bundle: Path, trusted_keys: Mapping[str, Ed25519PublicKey]
    ) -> list[CosignedCheckpoint]:
        """Check the bundle and its consistency with the held checkpoint, then cosign (module doc)."""
        report = verify_bundle(bundle, trusted_keys, witnesses=WitnessPolicy(""))
        if not report.ok:
            first = report.file_problems or [
                f"{where} {what}"
                for where, what in (report.ledger.problems + report.ledger.checkpoint_problems)
            ]
            raise BadInput(
                f"the bundle does not verify, nothing cosigned: {first[0]}",
                where=str(bundle),
                hint="run `govbus audit verify --bundle` for every problem",
            )
        noted = [c for c in _bundle_checkpoints(Path(bundle)) if c.note is not None]
        if not noted:
            raise BadInput("has no checkpoint with a signed note to cosign", where=str(bundle))
        origin = parse_note(noted[-1].note or "")[0].split("\n", 1)[0]
        tree = LedgerTree(_bundle_leaves(Path(bundle)))
        held = self.held(origin)
        newest = noted[-1]
        if held is not None:
            _refuse_unless_extends(held, newest, tree, origin)
        fresh = [c for c in noted if held is None or c.number > held["number"]]
        stamp = int(utc_now().timestamp())
        cosigned = [
            CosignedCheckpoint(c.number, (c.note or "") + self._cosign_line(c.note_body or "", stamp))
            for c in fresh
        ]
        self._state["logs"][origin] = {"number": newest.number, "size": newest.tree_size, "root": newest.root}
        self._save()
        return cosigned

    def cosign_consistency(
        self, document: Mapping[str, Any], trusted_keys: Mapping[str, Ed25519PublicKey]
    ) -> list[CosignedCheckpoint]:
        """Cosign `new` of a `govbus audit consistency --from HELD --to N` document (no bundle needed).

        The document's signatures, `new`'s signed note and the RFC 9162 proof must hold; its
        `old` must be the checkpoint this witness holds for the log (number, size and root),
        unless it holds none yet (first use: it trusts `new`). Refusals as `cosign_bundle`.
        """
        problems = check_consistency_document(document, trusted_keys)
        try:
            old, new = Checkpoint.from_json(document["old"]), Checkpoint.from_json(document["new"])
        except (KeyError, TypeError, ValueError, AttributeError):
            problems = problems or ["not a ledger consistency proof document"]
            old = new = None
        if new is not None and new.note is None:
            problems.append(f"checkpoint {new.number} has no signed note to cosign")
        elif new is not None and (bad := note_problem(new, trusted_keys)):
            problems.append(f"checkpoint {new.number}: {bad}")
        if problems or old is None or new is None:
            raise BadInput(
                f"the consistency document does not verify, nothing cosigned: {problems[0]}",
                where="consistency document",
                hint="fetch it again with `govbus audit consistency --from <held> --to <newest>`",
            )
        origin = (new.note_body or "").split("\n", 1)[0]
        held = self.held(origin)
        if held is not None:
            if new.number < int(held["number"]) or new.tree_size < int(held["size"]):
                _refuse_unless_extends(held, new, LedgerTree([]), origin)
            if (new.number, new.tree_size, new.root) == (held["number"], held["size"], held["root"]):
                return []  # the checkpoint it holds: nothing new
            same = (old.number, old.tree_size, old.root) == (held["number"], held["size"], held["root"])
            if not same:
                raise BadInput(
                    f"starts from checkpoint {old.number}, not from checkpoint {held['number']} this witness "
                    "cosigned (or disagrees with it: a fork), refused",
                    where=f"checkpoint {new.number} of {origin}",
                    hint=f"ask for `govbus audit consistency --from {held['number']} --to {new.number}`",
                )
        stamp = int(utc_now().timestamp())
        cosigned = [
            CosignedCheckpoint(new.number, (new.note or "") + self._cosign_line(new.note_body or "", stamp))
        ]
        self._state["logs"][origin] = {"number": new.number, "size": new.tree_size, "root": new.root}
        self._save()
        return cosigned

    def _cosign_line(self, body: str, stamp: int) -> str:
        return cosign(body, self.name, self._private, stamp).line


def _refuse_unless_extends(
    held: Mapping[str, Any], newest: Checkpoint, tree: LedgerTree, origin: str
) -> None:
    """BadInput unless `newest` is not older than the held checkpoint and its tree extends it."""
    size, root, number = int(held["size"]), str(held["root"]), int(held["number"])
    where = f"checkpoint {newest.number} of {origin}"
    if newest.number < number or newest.tree_size < size:
        raise BadInput(
            f"is older than checkpoint {number} ({size} entries) this witness already cosigned: "
            "rolled back, refused",
            where=where,
            hint="the bus must show its newest checkpoint; report a log that goes back",
        )
    if size == 0:
        return
    proof = tree.consistency_proof(size, newest.tree_size) if size <= tree.size else []
    if size > tree.size or not verify_consistency(size, newest.tree_size, root, newest.root, proof):
        raise BadInput(
            f"is not consistent with checkpoint {number} this witness cosigned (history rewritten "
            "or a fork), refused",
            where=where,
            hint="keep both bundles: they prove the log showed two histories",
        )


def _bundle_checkpoints(bundle: Path) -> list[Checkpoint]:
    lines = (bundle / CHECKPOINTS).read_text(encoding="utf-8").splitlines()
    return [Checkpoint.from_json(json.loads(line)) for line in lines if line.strip()]


def _bundle_leaves(bundle: Path) -> list[bytes]:
    lines = (bundle / ENTRIES).read_text(encoding="utf-8").splitlines()
    return [entry_leaf_hash(json.loads(line)["entry_hash"]) for line in lines if line.strip()]


def state_path(key_file: Path) -> Path:
    """The state file kept next to a witness's key file."""
    return Path(key_file).with_name(Path(key_file).name + STATE_SUFFIX)


def write_cosigned_file(path: Path, cosigned: Sequence[CosignedCheckpoint]) -> None:
    """One JSON line per cosigned checkpoint: `{"number", "note"}`."""
    text = "".join(
        json.dumps({"number": c.number, "note": c.note}, sort_keys=True, ensure_ascii=False) + "\n"
        for c in cosigned
    )
    Path(path).write_text(text, encoding="utf-8")


def read_cosigned_file(path: Path) -> list[CosignedCheckpoint]:
    """Inverse of `write_cosigned_file`; BadInput naming the file and line otherwise."""
    found: list[CosignedCheckpoint] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("cannot read the cosignature file", where=str(path)) from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            item = CosignedCheckpoint(int(data["number"]), str(data["note"]))
            item.cosignatures  # noqa: B018 - parse now, to name the line
        except (ValueError, KeyError, TypeError, GovBusError) as exc:
            raise BadInput(
                "is not a cosigned checkpoint ({number, note})",
                where=f"{path} line {number}",
                hint="pass the file `govbus audit witness cosign --out` wrote",
            ) from exc
        found.append(item)
    return found
