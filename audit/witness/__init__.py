"""audit.witness: the deployment's witness policy (`catalog/ledger.yaml`) and the witness itself.

A witness (another agency, an outside auditor) keeps its own Ed25519 key and a small
state file, and cosigns the bus's checkpoints (C2SP tlog-cosignature v1) only after
checking they extend the last one it cosigned: `Witness.cosign_bundle`. The bus records
the cosignatures it gets back (`audit.ledger.cosignatures.record_cosignatures`).
See docs/audit.md ("Witnesses").
"""

from __future__ import annotations

from audit.witness.settings import LEDGER_SETTINGS_FILE, load_witness_policy
from audit.witness.witness import CosignedCheckpoint, Witness, read_cosigned_file, write_cosigned_file

__all__ = [
    "LEDGER_SETTINGS_FILE",
    "CosignedCheckpoint",
    "Witness",
    "load_witness_policy",
    "read_cosigned_file",
    "write_cosigned_file",
]
