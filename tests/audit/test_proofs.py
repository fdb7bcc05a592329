"""`entry_proofs`: many inclusion proofs from one read of the ledger, equal to `entry_proof`'s."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from audit import Ledger, check_entry_proof, entry_proof
from audit.proofs import entry_proofs
from consent import KeyStore
from govbus.errors import BadInput


def test_proofs_of_several_entries_match_one_by_one_and_skip_newer_ones(
    engine: sa.Engine, keystore: KeyStore
) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        for number in range(1, 12):
            ledger.append(conn, "delivery", {"rows": number})
        ledger.checkpoint(conn)
        ledger.append(conn, "delivery", {"rows": 12})  # newer than the checkpoint
    keys = keystore.public_keys()
    with engine.connect() as conn:
        documents = entry_proofs(conn, [9, 2, 12, 2, 11])
        one_by_one = {seq: entry_proof(conn, seq) for seq in (2, 9, 11)}
        with pytest.raises(BadInput, match="no ledger entry"):
            entry_proofs(conn, [3, 40])
        assert entry_proofs(conn, []) == {}
    assert documents == one_by_one  # 12 is left out: its proof comes with the next checkpoint
    assert all(check_entry_proof(d, keys) == [] for d in documents.values())


def test_no_checkpoint_yet_means_no_proof(engine: sa.Engine, keystore: KeyStore) -> None:
    ledger = Ledger.from_keystore(keystore)
    with engine.begin() as conn:
        ledger.append(conn, "delivery", {"rows": 1})
    with engine.connect() as conn:
        assert entry_proofs(conn, [1]) == {}
