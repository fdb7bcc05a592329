"""`catalog/ledger.yaml`: the origin of the ledger's signed notes, its witnesses, the cosignatures required.

Why a file of its own: the witnesses and the count are the deployment's policy, read by
the bus (to record and require cosignatures) and stated in every bundle's signed
manifest; the catalog's other files describe agencies and data. Example:

    origin: tax.gov.example/govbus-ledger    # the note's first line and the bus's key name
    cosignatures_required: 1                  # per checkpoint with a signed note; default 0
    witnesses:
      - name: audit-office.example/witness    # informative; the key names itself
        key: audit-office.example/witness+1a2b3c4d+BA...   # `govbus audit witness init` prints it

A missing file means: origin `govbus.local/govbus-ledger`, no witnesses, none required.
Every error names the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path

from audit.ledger.checkpoints import DEFAULT_NOTE_ORIGIN
from audit.ledger.cosignatures import WitnessPolicy
from audit.notes import COSIGNATURE_TYPE, NoteKey, check_key_name
from govbus.errors import BadConfiguration, GovBusError
from govbus.yamlfile import MarkedDict, load_marked, where

LEDGER_SETTINGS_FILE = "ledger.yaml"
_KEYS = {"origin", "cosignatures_required", "witnesses"}


def load_witness_policy(catalog_dir: Path) -> WitnessPolicy:
    """The policy of `catalog_dir/ledger.yaml` (defaults when the file is absent)."""
    path = Path(catalog_dir) / LEDGER_SETTINGS_FILE
    if not path.is_file():
        return WitnessPolicy(DEFAULT_NOTE_ORIGIN)
    document = load_marked(path)
    if document is None:
        return WitnessPolicy(DEFAULT_NOTE_ORIGIN)
    if not isinstance(document, MarkedDict):
        raise BadConfiguration(
            "must be a mapping (origin, witnesses, cosignatures_required)", where=str(path)
        )
    for key in document:
        if key not in _KEYS:
            raise BadConfiguration(
                f"unknown field {key!r}", where=where(path, document, key), hint=f"use {sorted(_KEYS)}"
            )
    origin = document.get("origin", DEFAULT_NOTE_ORIGIN)
    try:
        check_key_name(origin, where=f"{where(path, document, 'origin')} origin")
    except GovBusError as exc:
        raise BadConfiguration(exc.message, where=exc.where, hint=exc.hint) from None
    witnesses = _witnesses(path, document)
    required = document.get("cosignatures_required", 0)
    if isinstance(required, bool) or not isinstance(required, int) or not 0 <= required <= len(witnesses):
        raise BadConfiguration(
            f"must be a whole number from 0 to the {len(witnesses)} witness(es) declared",
            where=f"{where(path, document, 'cosignatures_required')} cosignatures_required",
        )
    return WitnessPolicy(origin, witnesses, required)


def _witnesses(path: Path, document: MarkedDict) -> tuple[NoteKey, ...]:
    items = document.get("witnesses") or []
    if not isinstance(items, list):
        raise BadConfiguration("must be a list", where=f"{where(path, document, 'witnesses')} witnesses")
    keys: list[NoteKey] = []
    for index, item in enumerate(items):
        field = f"witnesses[{index}].key"
        shown = f"{where(path, item if isinstance(item, MarkedDict) else document, 'key')} {field}"
        if not isinstance(item, MarkedDict) or not isinstance(item.get("key"), str):
            raise BadConfiguration(
                "each witness needs `key:` (its verifier key)",
                where=shown,
                hint="the witness prints it with `govbus audit witness init`",
            )
        try:
            key = NoteKey.from_vkey(item["key"], where=shown)
        except GovBusError as exc:
            raise BadConfiguration(exc.message, where=exc.where, hint=exc.hint) from None
        if key.key_type != COSIGNATURE_TYPE:
            raise BadConfiguration("is not a cosignature (type 0x04) key", where=shown)
        if any(other.name == key.name for other in keys):
            raise BadConfiguration(f"witness {key.name} is declared twice", where=shown)
        keys.append(key)
    return tuple(keys)
