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
    govbus_verify.py receipt RECEIPT.json --trusted-keys KEY.pem [...]      # a consent receipt
    govbus_verify.py note CHECKPOINT.note --trusted-keys KEY.pem [...]      # a C2SP checkpoint note
    govbus_verify.py cosignature FILE --trusted-keys KEY.pem --witness-keys VKEY [...] [--require N]
    govbus_verify.py purge-confirmation CONFIRMATION.json --trusted-keys RECIPIENT.pem [--instruction F]
    govbus_verify.py delivery FOLDER|MANIFEST --trusted-keys KEY.pem [...]  # files, SFTP, saved REST bodies
    govbus_verify.py sql-manifests DATABASE.sqlite TABLE --trusted-keys KEY.pem [...]  # stored manifests

Bundles: cosignatures are checked against --witness-keys / --require-cosignatures when
given, else against the witnesses the bus-signed manifest states.

Exit codes: 0 verified against pinned keys; 1 a problem was found; 2 bad usage or
unreadable input; 3 consistent, but only against keys the bundle ships itself.
"""

from __future__ import annotations

import argparse
import base64
import decimal
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


# -- C2SP signed notes, checkpoints and cosignatures (spec §9-§10) ------------------------

DASH = "\u2014"
NOTE_ED25519, NOTE_COSIGNATURE = 0x01, 0x04


def raw_key(public: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_hash(name: str, key_type: int, raw: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || raw key)[:4] (c2sp.org/signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + raw).digest()[:4]


def parse_vkey(text: str) -> tuple[str, int, Ed25519PublicKey]:
    """`<name>+<hex hash>+<base64(type || key)>` -> (name, type, key); ValueError if malformed."""
    name, digest, encoded = text.strip().split("+", 2)  # the base64 key may hold '+' too
    data = base64.b64decode(encoded, validate=True)
    if len(data) != 33 or note_key_hash(name, data[0], data[1:]).hex() != digest.lower():
        raise ValueError(f"verifier key {name}: malformed or its hash does not match")
    return name, data[0], Ed25519PublicKey.from_public_bytes(data[1:])


def parse_note(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(body, [(key name, signature value)]) of a signed note; ValueError if malformed."""
    body, sep, lines = text.rpartition("\n\n")
    if not sep or not lines.endswith("\n"):
        raise ValueError("not a signed note")
    found = []
    for line in lines[:-1].split("\n"):
        dash, name, value = line.split(" ")
        if dash != DASH:
            raise ValueError("not a signature line")
        found.append((name, base64.b64decode(value, validate=True)))
    return body + "\n", found


def note_signed(body: str, name: str, value: bytes, public: Ed25519PublicKey) -> bool:
    """An Ed25519 (type 0x01) note signature by `public` under key name `name`."""
    if value[:4] != note_key_hash(name, NOTE_ED25519, raw_key(public)):
        return False
    try:
        public.verify(value[4:], body.encode())
    except InvalidSignature:
        return False
    return True


def cosigned_time(body: str, name: str, value: bytes, public: Ed25519PublicKey) -> int | None:
    """The time of a valid cosignature/v1 (type 0x04) by `public`, else None."""
    if len(value) != 76 or value[:4] != note_key_hash(name, NOTE_COSIGNATURE, raw_key(public)):
        return None
    stamp = int.from_bytes(value[4:12], "big")
    try:
        public.verify(value[12:], f"cosignature/v1\ntime {stamp}\n{body}".encode())
    except InvalidSignature:
        return None
    return stamp


def checkpoint_note_body(origin: str, cp: dict[str, Any]) -> str:
    """Spec §9: origin, size, base64 root, then `checkpoint <number>` and `time <at>`."""
    root = base64.b64encode(bytes.fromhex(cp["root"])).decode()
    return f"{origin}\n{cp['tree_size']}\n{root}\ncheckpoint {cp['number']}\ntime {iso_utc(cp['at'])}\n"


def note_problems(cp: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """A checkpoint's `note` (if any) must state its fields and be signed by a trusted key."""
    if cp.get("note") is None:
        return []
    body, lines = parse_note(cp["note"])
    origin = body.split("\n", 1)[0]
    if body != checkpoint_note_body(origin, cp):
        return [f"checkpoint {cp['number']}: its signed note says something else than the checkpoint"]
    if not any(note_signed(body, n, v, k) for n, v in lines if n == origin for k in keys.values()):
        return [f"checkpoint {cp['number']}: signed note has no valid signature by a trusted key"]
    return []


def cosignature_problems(
    number: Any,
    body: str,
    lines: list[tuple[str, bytes]],
    witnesses: list[tuple[str, int, Any]],
    required: int,
) -> list[str]:
    """Spec §10: a known witness's line that fails is forged; fewer valid than `required` is short."""
    problems, valid = [], set()
    for name, value in lines:
        for w_name, w_type, w_key in witnesses:
            if w_type != NOTE_COSIGNATURE or w_name != name:
                continue
            if value[:4] != note_key_hash(w_name, w_type, raw_key(w_key)):
                continue
            if cosigned_time(body, name, value, w_key) is None:
                problems.append(
                    f"checkpoint {number}: cosignature of witness {name} does not verify (forged?)"
                )
            else:
                valid.add(name)
    if len(valid) < required:
        problems.append(
            f"checkpoint {number}: has {len(valid)} of the {required} witness cosignature(s) required"
        )
    return problems


def _check_note_vectors(doc: dict[str, Any], ledger: dict[str, Any]) -> list[str]:
    """notes.json: key hashes, verifier keys, note bodies, note signatures and cosignatures."""
    problems: list[str] = []
    bus = Ed25519PublicKey.from_public_bytes(bytes.fromhex(doc["bus_key"]["public_raw_hex"]))
    witness = parse_vkey(doc["witness_key"]["vkey"])
    name, key_type, public = parse_vkey(doc["bus_key"]["vkey"])
    if (name, key_type, raw_key(public)) != (doc["origin"], NOTE_ED25519, raw_key(bus)):
        problems.append("notes: bus verifier key differs")
    if note_key_hash(doc["origin"], NOTE_ED25519, raw_key(bus)).hex() != doc["bus_key"]["key_hash_hex"]:
        problems.append("notes: bus key hash differs")
    by_number = {cp["number"]: cp for cp in ledger["checkpoints"]}
    for item in doc["notes"]:
        cp = {**by_number[item["checkpoint"]], "note": item["note"]}
        body = parse_note(item["note"])[0]
        if body != item["body"] or checkpoint_note_body(doc["origin"], cp) != body:
            problems.append(f"notes: body of checkpoint {item['checkpoint']} differs")
        problems.extend(f"notes: {p}" for p in note_problems(cp, {key_id(bus): bus}))
        cos_body, cos_lines = parse_note(item["cosigned_note"])
        if cos_body != body or cosigned_time(body, *cos_lines[-1], witness[2]) != doc["cosigned_at"]:
            problems.append(f"notes: cosignature of checkpoint {item['checkpoint']} fails")
    return problems


def _check_purge_vectors(doc: dict[str, Any], bus_keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """purges.json: the bus-signed instruction and the recipient's confirmation of it."""
    raw = doc["instruction_json"].encode("utf-8")
    instruction = json.loads(raw)
    problems = (
        []
        if signed(bus_keys, instruction["key_id"], doc["instruction_signature_hex"], raw)
        else ["purges: instruction signature fails"]
    )
    recipient = load_pem(doc["recipient_key"]["public_pem"].encode())
    problems.extend(check_purge_confirmation(doc["confirmation"], {key_id(recipient): recipient}, raw))
    return problems


def load_pem(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError otherwise."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def check_purge_confirmation(
    document: dict[str, Any], keys: dict[str, Ed25519PublicKey], instruction: bytes | None = None
) -> list[str]:
    """Spec §11: the recipient's embedded signature; with the instruction, its SHA-256 and ids."""
    body = {k: v for k, v in document.items() if k != "signature"}
    block = document.get("signature") or {}
    problems: list[str] = []
    try:
        signature = base64.b64decode(block.get("value", ""), validate=True).hex()
    except ValueError:
        signature = ""
    if body.get("format") != "govbus.purge-confirmation/1":
        problems.append("purge confirmation: not a govbus.purge-confirmation/1 document")
    if block.get("alg") != "Ed25519" or not signed(
        keys, block.get("keyId", ""), signature, canonical_json(body)
    ):
        problems.append(
            f"purge confirmation {body.get('purge_id')}: signature does not verify with a trusted key"
        )
    if instruction is not None:
        named = json.loads(instruction)
        if hashlib.sha256(instruction).hexdigest() != body.get("instruction_sha256"):
            problems.append(f"purge confirmation {body.get('purge_id')}: not of this instruction (SHA-256)")
        if (named.get("purge_id"), named.get("recipient")) != (body.get("purge_id"), body.get("recipient")):
            problems.append(f"purge confirmation {body.get('purge_id')}: purge id or recipient differs")
    return problems


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
    notes = json.loads((folder / "notes.json").read_text(encoding="utf-8"))
    problems.extend(_check_note_vectors(notes, ledger))
    problems.extend(
        _check_purge_vectors(json.loads((folder / "purges.json").read_text(encoding="utf-8")), keys)
    )
    receipts = json.loads((folder / "receipts.json").read_text(encoding="utf-8"))
    problems.extend(_check_receipt_vector(receipts, keys))
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


# -- consent receipts (spec §12): a detached EdDSA JWS over RFC 8785 canonical JSON ---------

RECEIPT_VERSION = "KI-CR-v1.1.0"


def jcs(value: Any) -> str:
    """RFC 8785 (JSON Canonicalization Scheme) text of a parsed JSON value, standard library only.

    Members sorted by their UTF-16 code units; strings escaped as ECMAScript's
    JSON.stringify does (json.dumps with ensure_ascii off escapes the same set); numbers
    in ECMAScript's shortest form (integers as integers; 1e21 and beyond with `e+`).
    """
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{jcs(k)}:{jcs(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _es_number(value)
    raise ValueError(f"not a JSON value: {type(value).__name__}")


def _es_number(value: float) -> str:
    """ECMAScript's Number::toString of a double (RFC 8785 §3.2.2.3), from Python's shortest repr."""
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("NaN and Infinity are not JSON")
    if value == 0:
        return "0"
    # Shortest round-trip digits (repr), then where the point goes: value = 0.digits × 10^n.
    exact = decimal.Decimal(repr(value)).normalize().as_tuple()
    sign = "-" if exact.sign else ""
    digits = "".join(map(str, exact.digits))
    k = len(digits)
    n = k + int(exact.exponent)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    tail = "." + digits[1:] if k > 1 else ""
    return f"{sign}{digits[0]}{tail}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_receipt(receipt: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """A consent receipt: its JWS over the RFC 8785 form without `signature`, its embedded key."""
    block = receipt.get("signature") if isinstance(receipt, dict) else None
    if (
        not isinstance(block, dict)
        or block.get("alg") != "EdDSA"
        or block.get("canonicalization") != "RFC8785"
    ):
        return ["receipt: no EdDSA JWS over RFC 8785 canonical JSON (signature block)"]
    problems: list[str] = []
    if receipt.get("version") != RECEIPT_VERSION or "consentRecord" not in receipt:
        problems.append("receipt: not a GovBus consent receipt (version, consentRecord)")
    parts = str(block.get("jws", "")).split(".")
    if len(parts) != 3 or parts[1]:
        return [*problems, "receipt: signature.jws is not a detached compact JWS (header..signature)"]
    header = json.loads(_unb64url(parts[0]))
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or kid != block.get("keyId"):
        return [*problems, "receipt: the JWS header does not match the signature block"]
    payload = jcs({k: v for k, v in receipt.items() if k != "signature"}).encode("utf-8")
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
    public = keys.get(kid)
    try:
        if public is None:
            raise InvalidSignature
        public.verify(_unb64url(parts[2]), f"{parts[0]}.{encoded}".encode("ascii"))
    except InvalidSignature:
        return [*problems, f"receipt {receipt.get('consentReceiptID')}: signature does not verify"]
    embedded = receipt.get("publicKey", "")
    if not isinstance(embedded, str) or key_id(load_pem(embedded.encode())) != kid:
        problems.append("receipt: the embedded publicKey is not the key that signed it")
    return problems


def _check_receipt_vector(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """Spec §12 vector: the canonical bytes, the compact JWS, then the receipt as a verifier sees it."""
    receipt = doc["receipt"]
    canonical = jcs({k: v for k, v in receipt.items() if k != "signature"})
    problems = [] if canonical == doc["canonical_json"] else ["receipt: RFC 8785 form differs"]
    header, _, value = receipt["signature"]["jws"].split(".")
    payload = base64.urlsafe_b64encode(canonical.encode()).rstrip(b"=").decode("ascii")
    if f"{header}.{payload}.{value}" != doc["compact_jws"]:
        problems.append("receipt: compact JWS differs")
    return problems + check_receipt(receipt, keys)


MANIFEST_FORMAT = "govbus-delivery-manifest/1"


def _manifest_problems(
    label: str, raw: bytes, signature: bytes, keys: dict[str, Ed25519PublicKey]
) -> tuple[dict[str, Any] | None, list[str]]:
    """Spec §5: format, canonical bytes and the detached raw signature of one manifest."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, [f"{label}: not JSON"]
    if not isinstance(document, dict):
        return None, [f"{label}: not a JSON object"]
    problems = []
    if document.get("manifest") != MANIFEST_FORMAT:
        problems.append(f"{label}: not a {MANIFEST_FORMAT}")
    if canonical_json(document) != raw:
        problems.append(f"{label}: not in canonical form")
    if len(signature) != 64 or not signed(keys, str(document.get("key_id")), signature.hex(), raw):
        problems.append(f"{label}: signature does not verify with a trusted key")
    return document, problems


def check_delivery(path: Path, keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """Spec §5: every `*.manifest.json` of a folder (local files, an SFTP folder, REST bodies
    saved under their idempotency keys), or one manifest: signature, then each listed file's
    SHA-256 and, when the manifest gives it, its size."""
    manifests = sorted(path.glob("*.manifest.json")) if path.is_dir() else [path]
    if not manifests:
        return [f"{path}: no *.manifest.json here"]
    problems: list[str] = []
    for manifest in manifests:
        signature = manifest.with_name(manifest.name.removesuffix(".json") + ".sig")
        sig = signature.read_bytes() if signature.is_file() else b""
        document, found = _manifest_problems(manifest.name, manifest.read_bytes(), sig, keys)
        problems.extend(found)
        for item in (document or {}).get("files") or []:
            name = str(item.get("name"))
            if "/" in name or "\\" in name or name.startswith("."):
                problems.append(f"{manifest.name}: file entry {name!r} is not a plain name")
                continue
            target = manifest.parent / name
            if not target.is_file():
                problems.append(f"{manifest.name}: file {name} is missing")
                continue
            data = target.read_bytes()
            if hashlib.sha256(data).hexdigest() != item.get("sha256"):
                problems.append(f"{manifest.name}: file {name} differs (SHA-256)")
            elif "bytes" in item and len(data) != item["bytes"]:
                problems.append(f"{manifest.name}: file {name} differs (size)")
    return problems


def check_sql_manifests(database: Path, table: str, keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """Spec §5, SQL: the manifests stored for `table` in `govbus_delivery_manifests` of a
    SQLite file — signature, batch id, and the stored sorted leaves' count and root against
    the signed `records_sorted_root`. Matching the rows the table holds to those leaves
    needs each SQL type's text form: `govbus verify-delivery --sql URL --table T` does it."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            rows = connection.execute(
                "SELECT batch_id, row_count, sorted_root, manifest, signature, leaves "
                "FROM govbus_delivery_manifests WHERE table_name = ? ORDER BY batch_id",
                (table,),
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:  # not a SQLite file, or no manifests table: unreadable input
        raise ValueError(f"{database}: {exc}") from None
    if not rows:
        return [f"{table}: no delivery manifest is stored for this table"]
    problems: list[str] = []
    for batch_id, count, root, raw, signature, leaves in rows:
        document, found = _manifest_problems(f"{table} {batch_id}", bytes(raw), bytes(signature), keys)
        problems.extend(found)
        document = document or {}
        delivery, signed_rows = document.get("delivery") or {}, (document.get("rows") or {}).get("delivered")
        hashes = [bytes(leaves)[i : i + 32] for i in range(0, len(leaves), 32)]
        if document.get("batch_id") != batch_id:
            problems.append(f"{table} {batch_id}: the manifest is of another batch")
        if len(leaves) % 32 or not len(hashes) == count == signed_rows:
            problems.append(f"{table} {batch_id}: stored leaves do not number the signed rows")
        elif sorted(hashes) != hashes or mth(hashes).hex() != delivery.get("records_sorted_root"):
            problems.append(f"{table} {batch_id}: stored leaves do not give the signed root")
        elif root != delivery.get("records_sorted_root"):
            problems.append(f"{table} {batch_id}: stored root differs from the signed one")
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


def check_bundle(
    folder: Path,
    keys: dict[str, Ed25519PublicKey],
    pin: dict[str, Any] | None,
    witnesses: tuple[list[tuple[str, int, Any]], int] | None = None,
) -> list[str]:
    """Spec §4: files, chain, checkpoints and notes, shipped proofs, manifest totals, the pin,
    and (§10) cosignatures against `witnesses` (keys, required), else the manifest's."""
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
        problems.extend(note_problems(cp, keys))
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
    if witnesses is None and isinstance(manifest.get("witnesses"), dict):
        stated = manifest["witnesses"]
        witnesses = ([parse_vkey(text) for text in stated["keys"]], int(stated["required"]))
    for cp in checkpoints if witnesses is not None else []:
        lines = [parse_note("x\n\n" + line)[1][0] for line in cp.get("cosignatures", [])]
        if cp.get("note") is not None:
            body = parse_note(cp["note"])[0]
            problems.extend(cosignature_problems(cp["number"], body, lines, *witnesses))
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
    problems.extend(note_problems(cp, keys))
    return problems


def check_consistency(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """A consistency document of `govbus audit consistency` (format govbus-ledger-consistency/1)."""
    old, new = doc["old"], doc["new"]
    problems = [
        f"checkpoint {cp['number']}: signature does not verify with a trusted key"
        for cp in (old, new)
        if checkpoint_version(keys, cp) is None
    ]
    problems.extend(problem for cp in (old, new) for problem in note_problems(cp, keys))
    proof = [bytes.fromhex(h) for h in doc["proof"]]
    if not verify_consistency(
        old["tree_size"], new["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]), proof
    ):
        problems.append(f"checkpoint {new['number']} does not extend checkpoint {old['number']}")
    return problems


def _witness_args(args: argparse.Namespace) -> tuple[list[tuple[str, int, Any]], int] | None:
    """(witness keys, required) from the command line, or None to use the bundle manifest's."""
    if args.witness_keys is None and args.require_cosignatures is None:
        return None
    keys = [parse_vkey(text) for text in args.witness_keys or []]
    return keys, args.require_cosignatures if args.require_cosignatures is not None else len(keys)


def check_notes(args: argparse.Namespace, keys: dict[str, Ed25519PublicKey]) -> list[str]:
    """`note`: a signed note by a trusted bus key (under its origin); `cosignature`: also its
    witnesses' cosignatures. FILE is a note, or JSON lines of `{number, note}` (a witness's output)."""
    text = args.file.read_text(encoding="utf-8")
    notes = (
        [text]
        if not text.startswith("{")
        else [json.loads(line)["note"] for line in text.splitlines() if line]
    )
    problems: list[str] = []
    for note in notes:
        body, lines = parse_note(note)
        origin, size = body.split("\n")[:2]
        if not any(note_signed(body, n, v, k) for n, v in lines if n == origin for k in keys.values()):
            problems.append(f"note {origin} size {size}: no valid signature by a trusted key")
        if args.command == "cosignature":
            witnesses = _witness_args(args) or ([], 0)
            problems.extend(cosignature_problems(f"{origin} size {size}", body, lines, *witnesses))
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
    for name in ("proof", "consistency", "decision", "receipt", "note", "cosignature", "purge-confirmation"):
        document = sub.add_parser(name)
        document.add_argument("file", type=Path)
        document.add_argument("--trusted-keys", nargs="+", required=True, metavar="PEM")
        if name == "purge-confirmation":
            document.add_argument("--instruction", type=Path, help="the purge-<id>.json it confirms")
    delivery = sub.add_parser("delivery")
    delivery.add_argument("path", type=Path)
    delivery.add_argument("--trusted-keys", nargs="+", required=True, metavar="PEM")
    sql_manifests = sub.add_parser("sql-manifests")
    sql_manifests.add_argument("database", type=Path, help="a SQLite file")
    sql_manifests.add_argument("table")
    sql_manifests.add_argument("--trusted-keys", nargs="+", required=True, metavar="PEM")
    for parser_ in (bundle, sub.choices["cosignature"]):
        parser_.add_argument("--witness-keys", nargs="+", default=None, metavar="VKEY")
        parser_.add_argument("--require-cosignatures", type=int, default=None, metavar="N")
    args = parser.parse_args(argv)
    untrusted = False
    try:
        if args.command == "vectors":
            problems = check_vectors(args.folder)
        elif args.command in ("proof", "consistency", "decision", "receipt"):
            check = {
                "proof": check_proof,
                "consistency": check_consistency,
                "decision": check_decision,
                "receipt": check_receipt,
            }[args.command]
            problems = check(json.loads(args.file.read_text(encoding="utf-8")), load_keys(args.trusted_keys))
        elif args.command in ("note", "cosignature"):
            problems = check_notes(args, load_keys(args.trusted_keys))
        elif args.command == "delivery":
            problems = check_delivery(args.path, load_keys(args.trusted_keys))
        elif args.command == "sql-manifests":
            problems = check_sql_manifests(args.database, args.table, load_keys(args.trusted_keys))
        elif args.command == "purge-confirmation":
            instruction = args.instruction.read_bytes() if args.instruction else None
            document = json.loads(args.file.read_text(encoding="utf-8"))
            problems = check_purge_confirmation(document, load_keys(args.trusted_keys), instruction)
        else:
            if args.trusted_keys is None and not args.trust_bundled_keys:
                print("error: pass --trusted-keys (the bus's keys you got out of band)", file=sys.stderr)
                return 2
            untrusted = args.trusted_keys is None
            keys = load_keys([str(args.folder / "keys")] if untrusted else args.trusted_keys)
            pin = json.loads(args.pin.read_text(encoding="utf-8")) if args.pin else None
            problems = check_bundle(args.folder, keys, pin, _witness_args(args))
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
