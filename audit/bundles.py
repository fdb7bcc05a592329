"""Audit bundles: the ledger exported to a folder that an auditor verifies offline.

Layout (format `govbus-audit-bundle/1`):

* `entries.jsonl` — one entry per line, as stored (`audit.proofs.entry_json`: the payload
  stays the exact canonical JSON text its hash covers);
* `checkpoints.jsonl` — one signed checkpoint per line, each with the RFC 6962
  consistency proof from the checkpoint before it (`consistency`: from, proof);
* `keys/<key_id>.pem` — the bus's Ed25519 public keys (SubjectPublicKeyInfo PEM);
* `manifest.json` — format, counts, tree head, key ids and the SHA-256 of every file;
* `manifest.sig` — raw Ed25519 signature over the exact bytes of `manifest.json` by the
  key `signed_by` names, so a verifier holding the bus's keys knows the bus wrote this
  file list and head (a replaced key, file or count shows). It does not stop a rollback:
  an older export is signed too; only a pinned checkpoint does (below).

`verify_bundle` needs no database. A key shipped inside the bundle proves nothing alone:
pass the keys you trust (`trusted_keys`, e.g. from `govbus keys list --pem`) to pin
them; without them the bundle's own keys are used and the report says so (the CLI then
refuses a plain "intact"). A bundle cut back to an older checkpoint, with entries,
checkpoints and manifest rewritten, is consistent in itself: only a checkpoint the
auditor already holds (`pin`) exposes it, so pass the last one you verified.
The layout is specified for other implementations in docs/spec/README.md §4.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.ledger.chain import ChainCheck, VerifyReport
from audit.ledger.checkpoints import Checkpoint, checkpoint_signature_problem, read_checkpoints
from audit.ledger.cosignatures import WitnessPolicy, cosignature_problems, read_cosignatures
from audit.ledger.ledger import stored_rows
from audit.ledger.tree import LedgerTree, read_leaves, verify_consistency
from audit.notes import NoteKey, NoteSignature, parse_signature_line
from audit.proofs import LEAF_RULE, entry_from_json, entry_json
from audit.signatures import SigningKey, check_signature, load_trusted_keys, public_key_pem
from govbus.errors import BadInput, GovBusError
from govbus.instants import iso_utc, utc_now

BUNDLE_FORMAT = "govbus-audit-bundle/1"
# What a checkpoint's signature covers (audit.ledger.checkpoints); version 1 lacks the last line.
CHECKPOINT_MESSAGE = "govbus-ledger\\n<tree_size>\\n<root>\\n<at>\\ncheckpoint <number>\\n (Ed25519)"
ENTRIES, CHECKPOINTS, MANIFEST, KEYS = "entries.jsonl", "checkpoints.jsonl", "manifest.json", "keys"
MANIFEST_SIG = "manifest.sig"


@dataclass
class BundleReport:
    """Outcome of `verify_bundle`: the ledger report plus problems of the files themselves."""

    ledger: VerifyReport
    file_problems: list[str] = field(default_factory=list)  # "file (line N): what"
    keys_source: str = "bundle"  # "bundle" or "trusted"

    @property
    def ok(self) -> bool:
        """True when the ledger verified and every file of the bundle matched."""
        return self.ledger.ok and not self.file_problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _line(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def export_bundle(
    conn: sa.Connection,
    path: Path,
    public_keys: Mapping[str, Ed25519PublicKey],
    signing_key: SigningKey | None = None,
    witnesses: WitnessPolicy | None = None,
) -> dict[str, Any]:
    """Write the ledger, its checkpoints and `public_keys` to the new folder `path`.

    Each checkpoint line carries its signed note (`note`) and the witnesses' cosignature
    lines recorded for it (`cosignatures`); with `witnesses`, the manifest states the
    deployment's witness keys and required count (`witnesses`).

    Exports what is stored, tampered or not (verify separately). Returns the manifest.
    With `signing_key` (the CLI always passes the bus's), `manifest.sig` signs the
    manifest; a bundle without it fails verification.
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BadInput("the bundle folder exists and is not empty", where=str(path), hint="name a new folder")
    (path / KEYS).mkdir(parents=True, exist_ok=True)
    count = 0
    with (path / ENTRIES).open("w", encoding="utf-8") as out:
        for row in stored_rows(conn):
            out.write(_line(entry_json(row)))
            count += 1
    _, leaves = read_leaves(conn)
    tree = LedgerTree(leaves)
    checkpoints = read_checkpoints(conn)
    cosigned = read_cosignatures(conn)
    with (path / CHECKPOINTS).open("w", encoding="utf-8") as out:
        previous: Checkpoint | None = None
        for checkpoint in checkpoints:
            document = checkpoint.to_json()
            if previous is not None and 1 <= previous.tree_size <= checkpoint.tree_size <= tree.size:
                proof = tree.consistency_proof(previous.tree_size, checkpoint.tree_size)
                document["consistency"] = {"from": previous.number, "proof": [node.hex() for node in proof]}
            if cosigned.get(checkpoint.number):
                document["cosignatures"] = [line.line for line in cosigned[checkpoint.number]]
            out.write(_line(document))
            previous = checkpoint
    for key_id, public in sorted(public_keys.items()):
        (path / KEYS / f"{key_id}.pem").write_text(public_key_pem(public), encoding="ascii")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    manifest = {
        "format": BUNDLE_FORMAT,
        "exported_at": iso_utc(utc_now()),
        "entries": count,
        "checkpoints": len(checkpoints),
        "tree_size": tree.size,
        "root": tree.root(),
        "key_ids": sorted(public_keys),
        "leaf_rule": LEAF_RULE,
        "checkpoint_message": CHECKPOINT_MESSAGE,
        "files": {p.relative_to(path).as_posix(): _sha256(p) for p in files},
    }
    if witnesses is not None:
        manifest["witnesses"] = witnesses.to_json()
    if signing_key is not None:
        manifest["signed_by"] = signing_key.key_id
    text = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    (path / MANIFEST).write_bytes(text)
    if signing_key is not None:
        (path / MANIFEST_SIG).write_bytes(signing_key.key.sign(text))
    return manifest


def _json_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-empty line; bad lines become problems."""
    if not path.is_file():
        problems.append(f"{path.name}: missing")
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError:
                problems.append(f"{path.name} line {number}: not JSON")


def _read_manifest(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        problems.append(f"{MANIFEST}: missing or not JSON")
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        problems.append(f"{MANIFEST}: not a {BUNDLE_FORMAT} manifest")
        return {}
    files = manifest.get("files") if isinstance(manifest.get("files"), dict) else {}
    for name, digest in sorted(files.items()):
        target = path / name
        if not target.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif _sha256(target) != digest:
            problems.append(f"{name}: SHA-256 differs from the manifest (file changed)")
    return manifest


def verify_bundle(
    path: Path,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    pin: Checkpoint | None = None,
    witnesses: WitnessPolicy | None = None,
) -> BundleReport:
    """Check a bundle offline: files, chain, entry signatures, checkpoints and the tree.

    With `pin` (the newest checkpoint the auditor held before), the bundle must also
    extend it: not older, the same checkpoint under that number, the same root at its size.
    Cosignatures are checked against `witnesses` (the auditor's own list), else against
    the policy the bus-signed manifest states: a forged one, or a checkpoint with a note
    and fewer valid cosignatures than required, is a checkpoint problem.
    """
    path = Path(path)
    if not path.is_dir():
        raise BadInput(
            "is not an audit bundle folder",
            where=str(path),
            hint="pass the folder written by `govbus audit export`",
        )
    file_problems: list[str] = []
    manifest = _read_manifest(path, file_problems)
    keys_source = "trusted" if trusted_keys is not None else "bundle"
    if trusted_keys is None:
        try:
            trusted_keys = load_trusted_keys([path / KEYS])
        except GovBusError as exc:
            file_problems.append(f"{KEYS}: {exc.message}")
            trusted_keys = {}
    if manifest:
        file_problems.extend(_manifest_signature_problems(path, manifest, trusted_keys))
    chain = ChainCheck(trusted_keys)
    for number, data in _json_lines(path / ENTRIES, file_problems):
        try:
            chain.feed(entry_from_json(data))
        except (KeyError, TypeError, ValueError, AttributeError):
            file_problems.append(f"{ENTRIES} line {number}: not a ledger entry")
    checkpoints: list[Checkpoint] = []
    shipped: list[tuple[Checkpoint, Any]] = []
    cosigned: dict[int, list[NoteSignature]] = {}
    for number, data in _json_lines(path / CHECKPOINTS, file_problems):
        try:
            checkpoint = Checkpoint.from_json(data)
            lines = [parse_signature_line(str(text)) for text in data.get("cosignatures", ())]
        except (KeyError, TypeError, ValueError, AttributeError, GovBusError):
            file_problems.append(f"{CHECKPOINTS} line {number}: not a checkpoint")
            continue
        cosigned[checkpoint.number] = lines
        checkpoints.append(checkpoint)
        shipped.append((checkpoint, data.get("consistency")))
    # Uncovered deliveries are judged as of the export: the bundle is a snapshot.
    report = chain.finish(checkpoints, now=_exported_at(manifest))
    report.checkpoint_problems.extend(_shipped_consistency(shipped))
    policy = witnesses if witnesses is not None else _manifest_witnesses(manifest, file_problems)
    if policy is not None:
        report.checkpoint_problems.extend(cosignature_problems(checkpoints, cosigned, policy))
    if pin is not None:
        report.checkpoint_problems.extend(
            pin_problems(pin, checkpoints, LedgerTree(chain.leaves), trusted_keys)
        )
    report.ok = report.ok and not report.checkpoint_problems
    if manifest and (manifest.get("entries") != report.entries or manifest.get("root") != report.tree_root):
        file_problems.append(f"{MANIFEST}: entry count or root differs from the entries")
    return BundleReport(report, file_problems, keys_source)


def _manifest_signature_problems(
    path: Path, manifest: Mapping[str, Any], public_keys: Mapping[str, Ed25519PublicKey]
) -> list[str]:
    """Why `manifest.sig` does not prove the bus wrote `manifest.json`, if it does not."""
    try:
        signature, text = (path / MANIFEST_SIG).read_bytes(), (path / MANIFEST).read_bytes()
    except OSError:
        return [f"{MANIFEST_SIG}: missing: the manifest is not signed (removed, or an old export)"]
    check = check_signature(public_keys, manifest.get("signed_by"), signature, text)
    return [f"{MANIFEST_SIG}: {problem}" for problem in check.problems]


def _manifest_witnesses(manifest: Mapping[str, Any], problems: list[str]) -> WitnessPolicy | None:
    """The witness policy the (bus-signed) manifest states, or None when it states none."""
    block = manifest.get("witnesses")
    if block is None:
        return None
    try:
        keys = tuple(NoteKey.from_vkey(str(text), where=f"{MANIFEST} witnesses") for text in block["keys"])
        required = block["required"]
        if not isinstance(required, int):
            raise TypeError
    except (GovBusError, KeyError, TypeError):
        problems.append(f"{MANIFEST}: witnesses is malformed")
        return None
    return WitnessPolicy("", keys, required)


def _exported_at(manifest: Mapping[str, Any]) -> datetime | None:
    """The manifest's export time, or None (then: now) when it has none readable."""
    try:
        at = datetime.fromisoformat(str(manifest["exported_at"]))
    except (KeyError, ValueError):
        return None
    return at if at.tzinfo is not None else None


def _shipped_consistency(shipped: list[tuple[Checkpoint, Any]]) -> list[tuple[int, str]]:
    """Check each shipped consistency proof between the two checkpoints' recorded roots."""
    problems: list[tuple[int, str]] = []
    by_number = {checkpoint.number: checkpoint for checkpoint, _ in shipped}
    for checkpoint, block in shipped:
        if block is None:
            continue
        try:
            previous = by_number[block["from"]]
            proof = [bytes.fromhex(node) for node in block["proof"]]
        except (KeyError, TypeError, ValueError):
            problems.append((checkpoint.number, "consistency proof is malformed"))
            continue
        if not verify_consistency(
            previous.tree_size, checkpoint.tree_size, previous.root, checkpoint.root, proof
        ):
            problems.append(
                (checkpoint.number, f"consistency proof from checkpoint {previous.number} does not verify")
            )
    return problems


def pin_problems(
    pin: Checkpoint,
    checkpoints: list[Checkpoint],
    tree: LedgerTree,
    public_keys: Mapping[str, Ed25519PublicKey],
) -> list[tuple[int, str]]:
    """Why the bundle does not extend the pinned checkpoint (rolled back or forked), if it does not."""
    bad = checkpoint_signature_problem(pin, public_keys)
    if bad:
        return [(pin.number, f"the pinned checkpoint: {bad}")]
    newest = checkpoints[-1] if checkpoints else None
    if newest is None or newest.number < pin.number or newest.tree_size < pin.tree_size:
        held = f"#{newest.number}" if newest else "none"
        return [
            (pin.number, f"bundle is older than the pinned checkpoint (its newest is {held}): rolled back?")
        ]
    same = [c for c in checkpoints if c.number == pin.number]
    if same and (same[0].tree_size, same[0].root) != (pin.tree_size, pin.root):
        return [(pin.number, "differs from the pinned checkpoint with this number (history rewritten)")]
    if pin.tree_size > tree.size or tree.root(pin.tree_size) != pin.root:
        return [(pin.number, "the entries are not consistent with the pinned checkpoint (history rewritten)")]
    return []
