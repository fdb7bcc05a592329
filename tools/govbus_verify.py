#!/usr/bin/env python3
"""Standalone verifier of what GovBus signs: needs Python 3.10+ and `cryptography`, not GovBus.

Why a single file: an auditor or a second agency should check the bus from the written
spec (docs/spec/README.md) without installing or trusting the bus's code. Copy this file
anywhere and run:

    govbus_verify.py vectors docs/spec/vectors
    govbus_verify.py bundle BUNDLE --trusted-keys KEY.pem [...] [--pin CHECKPOINT.json]
    govbus_verify.py bundle BUNDLE --trust-bundled-keys      # exit 3 at best: keys unpinned
    govbus_verify.py proof PROOF.json --trusted-keys KEY.pem [...]          # `govbus audit proof`
    govbus_verify.py consistency DOC.json --trusted-keys KEY.pem [...]      # `govbus audit consistency`
    govbus_verify.py decision DECISION.json --trusted-keys KEY.pem [...]    # a subscription decision

Exit codes: 0 verified against pinned keys; 1 a problem was found; 2 bad usage or
unreadable input; 3 consistent, but only against keys the bundle ships itself.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENTRY_TAG = b"govbus-ledger-v1"
GENESIS = "0" * 64
BUNDLE_FORMAT = "govbus-audit-bundle/1"
DELIVERY_KIND = "delivery"
UNCOVERED_LIMIT_SECONDS = 24 * 3600

# -- encodings (spec §2-§3) -------------------------------------------------------------


def iso_utc(text: str) -> str:
    """The fixed-width `at` text the hash covers: UTC, microseconds, `+00:00`."""
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("time without a zone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(seq: int, at: str, kind: str, payload: str, prev_hash: str) -> str:
    """Spec §2: tag, then each field with an 8-byte big-endian length prefix."""
    digest = hashlib.sha256(ENTRY_TAG)
    for part in (str(seq), iso_utc(at), kind, payload, prev_hash):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def checkpoint_message(size: int, root: str, at: str, number: int | None) -> bytes:
    """Spec §3: the signed text; without `number`, the old version 1 message."""
    text = f"govbus-ledger\n{size}\n{root}\n{iso_utc(at)}\n"
    if number is not None:
        text += f"checkpoint {number}\n"
    return text.encode()


def key_id(public: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw public key (spec §1)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_keys(paths: list[str]) -> dict[str, Ed25519PublicKey]:
    """Trusted keys by key id from PEM files or folders of `*.pem`."""
    keys: dict[str, Ed25519PublicKey] = {}
    for name in paths:
        path = Path(name)
        for file in sorted(path.glob("*.pem")) if path.is_dir() else [path]:
            key = serialization.load_pem_public_key(file.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"{file}: not an Ed25519 public key")
            keys[key_id(key)] = key
    return keys


def signed(keys: dict[str, Ed25519PublicKey], kid: str, signature: str, message: bytes) -> bool:
    """True if `signature` (hex) over `message` holds for the trusted key `kid`."""
    key = keys.get(kid)
    if key is None:
        return False
    try:
        key.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def checkpoint_version(keys: dict[str, Ed25519PublicKey], cp: dict[str, Any]) -> int | None:
    """2 if the signature covers the number line, 1 if only the old message, None if neither."""
    for version, number in ((2, cp["number"]), (1, None)):
        if signed(
            keys,
            cp["key_id"],
            cp["signature"],
            checkpoint_message(cp["tree_size"], cp["root"], cp["at"], number),
        ):
            return version
    return None


# -- RFC 6962 / RFC 9162 Merkle trees (spec §3) -------------------------------------------


def leaf_of(entry_hash_hex: str) -> bytes:
    """Leaf hash of an entry: SHA-256(0x00 || raw entry hash); a malformed hash still gets a leaf."""
    try:
        data = bytes.fromhex(entry_hash_hex)
    except ValueError:
        data = entry_hash_hex.encode()
    return hashlib.sha256(b"\x00" + data).digest()


def node(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash of leaf hashes (recursive: fine for an auditor's bundle)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old < 1 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if (old & (old - 1)) == 0:
        proof = [old_root, *proof]
    if not proof:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


# -- vectors (spec §7) --------------------------------------------------------------------


def check_vectors(folder: Path) -> list[str]:
    """Recompute every value of docs/spec/vectors from its inputs (spec §7)."""
    problems: list[str] = []
    ledger = json.loads((folder / "ledger.json").read_text(encoding="utf-8"))
    public = serialization.load_pem_public_key(ledger["signing_key"]["public_pem"].encode())
    keys = {key_id(public): public}
    if key_id(public) != ledger["signing_key"]["key_id"]:
        problems.append("ledger: key id is not SHA-256(raw key)[:16 hex]")
    prev = GENESIS
    for e in ledger["entries"]:
        fields = (str(e["seq"]), iso_utc(e["at"]), e["kind"], e["payload"], e["prev_hash"])
        encoded = ENTRY_TAG + b"".join(len(f.encode()).to_bytes(8, "big") + f.encode() for f in fields)
        if encoded.hex() != e["hash_input_hex"] or e["prev_hash"] != prev:
            problems.append(f"ledger entry {e['seq']}: hash input or chain differs")
        if entry_hash(e["seq"], e["at"], e["kind"], e["payload"], e["prev_hash"]) != e["entry_hash"]:
            problems.append(f"ledger entry {e['seq']}: entry hash differs")
        if not signed(keys, e["key_id"], e["signature"], bytes.fromhex(e["entry_hash"])):
            problems.append(f"ledger entry {e['seq']}: signature does not verify")
        if leaf_of(e["entry_hash"]).hex() != e["leaf_hash"]:
            problems.append(f"ledger entry {e['seq']}: leaf hash differs")
        prev = e["entry_hash"]
    leaves = [leaf_of(e["entry_hash"]) for e in ledger["entries"]]
    if mth(leaves).hex() != ledger["tree_root"]:
        problems.append("ledger: tree root differs")
    by_number = {}
    for cp in ledger["checkpoints"]:
        by_number[cp["number"]] = cp
        message = checkpoint_message(cp["tree_size"], cp["root"], cp["at"], cp["number"])
        if message.decode() != cp["message"] or checkpoint_version(keys, cp) != 2:
            problems.append(f"checkpoint {cp['number']}: message or signature differs")
        if mth(leaves[: cp["tree_size"]]).hex() != cp["root"]:
            problems.append(f"checkpoint {cp['number']}: root differs")
    for p in ledger["inclusion_proofs"]:
        cp = by_number[p["checkpoint"]]
        path = [bytes.fromhex(h) for h in p["audit_path"]]
        if p["leaf_index"] != p["seq"] - 1 or not verify_inclusion(
            leaves[p["leaf_index"]], p["leaf_index"], cp["tree_size"], path, bytes.fromhex(cp["root"])
        ):
            problems.append(f"inclusion proof of seq {p['seq']} in checkpoint {cp['number']}: fails")
    for p in ledger["consistency_proofs"]:
        old, new = by_number[p["from_checkpoint"]], by_number[p["to_checkpoint"]]
        proof = [bytes.fromhex(h) for h in p["proof"]]
        if not verify_consistency(
            old["tree_size"], new["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), proof
        ):
            problems.append(f"consistency proof {old['number']} -> {new['number']}: fails")
    problems.extend(_check_pseudonyms(json.loads((folder / "pseudonyms.json").read_text(encoding="utf-8"))))
    problems.extend(_check_records(json.loads((folder / "records.json").read_text(encoding="utf-8"))))
    documents = json.loads((folder / "signed_documents.json").read_text(encoding="utf-8"))
    problems.extend(check_decision(documents["decision"]["document"], keys, documents["decision"]["request"]))
    problems.extend(_check_manifest_vector(documents["delivery_manifest"], keys))
    return problems


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 with non-ASCII characters as themselves (spec §1)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_decision(
    document: dict[str, Any], keys: dict[str, Ed25519PublicKey], request: dict[str, Any] | None = None
) -> list[str]:
    """A signed subscription decision (embedded signature); with `request`, its fingerprint too."""
    body = {k: v for k, v in document.items() if k != "signature"}
    block = document.get("signature") or {}
    problems: list[str] = []
    try:
        signature = base64.b64decode(block.get("value", ""), validate=True).hex()
    except ValueError:
        signature = ""
    if block.get("alg") != "Ed25519" or not signed(
        keys, block.get("keyId", ""), signature, canonical_json(body)
    ):
        problems.append(f"decision on {body.get('request')}: signature does not verify with a trusted key")
    if request is not None and hashlib.sha256(canonical_json(request)).hexdigest() != body.get(
        "request_sha256"
    ):
        problems.append(f"decision on {body.get('request')}: request_sha256 is not the request's fingerprint")
    return problems


def _check_manifest_vector(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """A delivery manifest: detached signature over its exact bytes, then each file's size and SHA-256."""
    raw = doc["manifest_json"].encode("utf-8")
    manifest = json.loads(raw)
    problems = (
        [] if signed(keys, manifest["key_id"], doc["signature_hex"], raw) else ["manifest: signature fails"]
    )
    for item in manifest["files"]:
        data = doc["files"][item["name"]].encode("utf-8")
        if (len(data), hashlib.sha256(data).hexdigest()) != (item["bytes"], item["sha256"]):
            problems.append(f"manifest: file {item['name']} differs")
    return problems


def _check_pseudonyms(doc: dict[str, Any]) -> list[str]:
    info = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in doc["hkdf"]["info_parts"])
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=doc["hkdf"]["length"],
        salt=doc["hkdf"]["salt_utf8"].encode(),
        info=info,
    ).derive(bytes.fromhex(doc["master_key_hex"]))
    problems = [] if info.hex() == doc["hkdf"]["info_hex"] else ["pseudonyms: HKDF info differs"]
    if key.hex() != doc["pseudonym_key_hex"]:
        problems.append("pseudonyms: derived key differs")
    for item in doc["pseudonyms"]:
        if hmac.new(key, item["value"].encode(), "sha256").hexdigest() != item["pseudonym"]:
            problems.append(f"pseudonyms: pseudonym of {item['value']!r} differs")
    return problems


def _check_records(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    leaves = []
    for row, expected_input, expected in zip(
        doc["rows"], doc["leaf_inputs_hex"], doc["leaf_hashes"], strict=True
    ):
        data = b"\x00"
        for column in doc["columns"]:
            value = row[column]
            raw = None if value is None else str(value).encode()
            data += b"~" if raw is None else f"{len(raw)}:".encode() + raw
        leaf = hashlib.sha256(data).digest()
        if data.hex() != expected_input or leaf.hex() != expected:
            problems.append(f"records: leaf of {row} differs")
        leaves.append(leaf)
    if mth(leaves).hex() != doc["merkle_root"]:
        problems.append("records: Merkle root differs")
    return problems


# -- bundles and proofs (spec §4) --------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_bundle(folder: Path, keys: dict[str, Ed25519PublicKey], pin: dict[str, Any] | None) -> list[str]:
    """Spec §4: files, chain, checkpoints, shipped proofs, manifest totals and the pin."""
    problems: list[str] = []
    raw_manifest = (folder / "manifest.json").read_bytes()
    manifest = json.loads(raw_manifest)
    if manifest.get("format") != BUNDLE_FORMAT:
        return [f"manifest.json: not a {BUNDLE_FORMAT} manifest"]
    sig = folder / "manifest.sig"
    if not sig.is_file():
        problems.append("manifest.sig: missing: the manifest is not signed")
    elif not signed(keys, str(manifest.get("signed_by")), sig.read_bytes().hex(), raw_manifest):
        problems.append("manifest.sig: does not verify with a trusted key over manifest.json")
    for name, digest in sorted(manifest.get("files", {}).items()):
        target = folder / name
        if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: missing or its SHA-256 differs from the manifest")
    prev, leaves, last_at = GENESIS, [], None
    deliveries: list[tuple[int, datetime]] = []
    for e in _lines(folder / "entries.jsonl"):
        seq = e["seq"]
        if seq != len(leaves) + 1:
            problems.append(f"entry {len(leaves) + 1}: missing (found seq {seq})")
        if e["prev_hash"] != prev:
            problems.append(f"entry {seq}: prev_hash does not match the previous entry")
        if entry_hash(seq, e["at"], e["kind"], e["payload"], e["prev_hash"]) != e["entry_hash"]:
            problems.append(f"entry {seq}: content does not match its hash")
        if not signed(keys, e["key_id"], e["signature"], bytes.fromhex(e["entry_hash"])):
            problems.append(f"entry {seq}: signature does not verify with a trusted key")
        at = datetime.fromisoformat(e["at"])
        if last_at is not None and at < last_at:
            problems.append(f"entry {seq}: time earlier than the previous entry")
        prev, last_at = e["entry_hash"], at
        if e["kind"] == DELIVERY_KIND:
            deliveries.append((seq, at))
        leaves.append(leaf_of(e["entry_hash"]))
    checkpoints = _lines(folder / "checkpoints.jsonl")
    previous = None
    for cp in checkpoints:
        number = cp["number"]
        if number != (previous["number"] + 1 if previous else 1):
            problems.append(f"checkpoint {number}: numbering has a gap")
        if checkpoint_version(keys, cp) is None:
            problems.append(f"checkpoint {number}: signature does not verify with a trusted key")
        if cp["tree_size"] > len(leaves) or mth(leaves[: cp["tree_size"]]).hex() != cp["root"]:
            problems.append(f"checkpoint {number}: root does not match the entries")
        if previous and (cp["tree_size"] < previous["tree_size"] or cp["at"] < previous["at"]):
            problems.append(f"checkpoint {number}: smaller or older than checkpoint {previous['number']}")
        block = cp.get("consistency")
        if block and previous and previous["tree_size"] >= 1:
            proof = [bytes.fromhex(h) for h in block["proof"]]
            if block["from"] != previous["number"] or not verify_consistency(
                previous["tree_size"],
                cp["tree_size"],
                bytes.fromhex(previous["root"]),
                bytes.fromhex(cp["root"]),
                proof,
            ):
                problems.append(f"checkpoint {number}: shipped consistency proof does not verify")
        previous = cp
    if manifest.get("entries") != len(leaves) or manifest.get("root") != mth(leaves).hex():
        problems.append("manifest.json: entry count or root differs from the entries")
    problems.extend(_coverage(deliveries, checkpoints, manifest.get("exported_at")))
    if pin is not None:
        problems.extend(_check_pin(pin, checkpoints, leaves, keys))
    return problems


def _coverage(
    deliveries: list[tuple[int, datetime]], checkpoints: list[dict[str, Any]], exported: Any
) -> list[str]:
    """Spec §4: every run ends with a checkpoint, so an old uncovered delivery means a rollback."""
    if not deliveries:
        return []
    if not checkpoints:
        return [f"entry {deliveries[0][0]}: delivery entries but no checkpoint (rolled back?)"]
    size = checkpoints[-1]["tree_size"]
    uncovered = [at for seq, at in deliveries if seq > size]
    now = datetime.fromisoformat(exported) if isinstance(exported, str) else datetime.now(UTC)
    if uncovered and (now - min(uncovered)).total_seconds() > UNCOVERED_LIMIT_SECONDS:
        return [
            f"delivery entries past checkpoint {checkpoints[-1]['number']} are over 24 hours old "
            "(rolled back?)"
        ]
    return []


def _check_pin(
    pin: dict[str, Any],
    checkpoints: list[dict[str, Any]],
    leaves: list[bytes],
    keys: dict[str, Ed25519PublicKey],
) -> list[str]:
    """The bundle must extend the checkpoint the auditor already holds (no rollback, no fork)."""
    if checkpoint_version(keys, pin) is None:
        return [f"pinned checkpoint {pin['number']}: signature does not verify with a trusted key"]
    newest = checkpoints[-1] if checkpoints else None
    if newest is None or newest["number"] < pin["number"] or newest["tree_size"] < pin["tree_size"]:
        return [
            f"bundle is older than the pinned checkpoint {pin['number']} "
            f"(its newest is {newest['number'] if newest else 'none'}): rolled back?"
        ]
    same = [cp for cp in checkpoints if cp["number"] == pin["number"]]
    if same and (same[0]["root"], same[0]["tree_size"]) != (pin["root"], pin["tree_size"]):
        return [f"checkpoint {pin['number']} differs from the pinned one (history rewritten)"]
    if pin["tree_size"] > len(leaves) or mth(leaves[: pin["tree_size"]]).hex() != pin["root"]:
        return [f"entries are not consistent with the pinned checkpoint {pin['number']}"]
    return []


def check_proof(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """An inclusion proof document of `govbus audit proof` (format govbus-ledger-inclusion/1)."""
    e, cp = doc["entry"], doc["checkpoint"]
    problems: list[str] = []
    if entry_hash(e["seq"], e["at"], e["kind"], e["payload"], e["prev_hash"]) != e["entry_hash"]:
        problems.append(f"entry {e['seq']}: content does not match its hash")
    if not signed(keys, e["key_id"], e["signature"], bytes.fromhex(e["entry_hash"])):
        problems.append(f"entry {e['seq']}: signature does not verify with a trusted key")
    path = [bytes.fromhex(h) for h in doc["audit_path"]]
    if doc["leaf_index"] != e["seq"] - 1 or not verify_inclusion(
        leaf_of(e["entry_hash"]), doc["leaf_index"], cp["tree_size"], path, bytes.fromhex(cp["root"])
    ):
        problems.append(f"entry {e['seq']}: audit path does not lead to checkpoint {cp['number']}'s root")
    if checkpoint_version(keys, cp) is None:
        problems.append(f"checkpoint {cp['number']}: signature does not verify with a trusted key")
    return problems


def check_consistency(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """A consistency document of `govbus audit consistency` (format govbus-ledger-consistency/1)."""
    old, new = doc["old"], doc["new"]
    problems = [
        f"checkpoint {cp['number']}: signature does not verify with a trusted key"
        for cp in (old, new)
        if checkpoint_version(keys, cp) is None
    ]
    proof = [bytes.fromhex(h) for h in doc["proof"]]
    if not verify_consistency(
        old["tree_size"], new["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), proof
    ):
        problems.append(f"checkpoint {new['number']} does not extend checkpoint {old['number']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command line; the exit codes are in the module doc."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("vectors").add_argument("folder", type=Path)
    bundle = sub.add_parser("bundle")
    bundle.add_argument("folder", type=Path)
    bundle.add_argument("--trusted-keys", nargs="+", default=None, metavar="PEM")
    bundle.add_argument("--trust-bundled-keys", action="store_true")
    bundle.add_argument("--pin", type=Path, help="the last checkpoint you hold (JSON)")
    for name in ("proof", "consistency", "decision"):
        document = sub.add_parser(name)
        document.add_argument("file", type=Path)
        document.add_argument("--trusted-keys", nargs="+", required=True, metavar="PEM")
    args = parser.parse_args(argv)
    untrusted = False
    try:
        if args.command == "vectors":
            problems = check_vectors(args.folder)
        elif args.command in ("proof", "consistency", "decision"):
            check = {"proof": check_proof, "consistency": check_consistency, "decision": check_decision}[
                args.command
            ]
            problems = check(json.loads(args.file.read_text(encoding="utf-8")), load_keys(args.trusted_keys))
        else:
            if args.trusted_keys is None and not args.trust_bundled_keys:
                print("error: pass --trusted-keys (the bus's keys you got out of band)", file=sys.stderr)
                return 2
            untrusted = args.trusted_keys is None
            keys = load_keys([str(args.folder / "keys")] if untrusted else args.trusted_keys)
            pin = json.loads(args.pin.read_text(encoding="utf-8")) if args.pin else None
            problems = check_bundle(args.folder, keys, pin)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: unreadable input: {exc!r}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        return 1
    if untrusted:
        print("CONSISTENT, NOT TRUSTED: checked only against the keys the bundle ships itself")
        return 3
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
