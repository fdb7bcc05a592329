"""import_consents on every database: bad lines are rejected by number, the rest commits."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from consent import ConsentRegister, KeyStore, import_consents
from govbus.errors import BadInput

HEADER = "subject_id,recipient,dataset,purpose,fields,valid_until,data_life,consent_id,action,at\n"
GOOD = "{sid},housing,tax.income,HOUSING_ALLOWANCE,a;b,2030-01-31,P1Y,{cid},,\n"


def test_rejections_do_not_poison_the_transaction(
    engine: sa.Engine, keystore: KeyStore, tmp_path: Path
) -> None:
    register = ConsentRegister(keystore.audit_key())
    kept = "3d2b8a1e-1111-4222-8333-444455556666"
    path = tmp_path / "in.csv"
    path.write_text(
        "\ufeff"
        + HEADER  # a BOM is fine
        + GOOD.format(sid="11111111111", cid=kept)  # 2 granted
        + GOOD.format(sid="22222222222", cid=kept)  # 3 another subject's id
        + "33333333333,housing,tax.income,HOUSING_ALLOWANCE,a,,P1Y,,,,extra\n"  # 4 extra cell
        + "44444444444,housing,tax.income,bad purpose,a,,,,,\n"  # 5 purpose malformed
        + f",,,,,,,{kept},pause,2031-01-01\n"  # 6 paused
        + f",,,,,,,{kept},revoke,2030-12-31\n"  # 7 before the pause: refused
        + "55555555555,housing,tax.income,HOUSING_ALLOWANCE,a,,P1Y,,,\n",  # 8 granted
        encoding="utf-8",
    )
    with engine.begin() as conn:
        report = import_consents(register, conn, path)
    outcomes = {line.line: line.outcome for line in report.lines}
    assert outcomes == {
        2: "granted",
        3: "rejected",
        4: "rejected",
        5: "rejected",
        6: "paused",
        7: "rejected",
        8: "granted",
    }
    reasons = {line.line: line.reason or "" for line in report.rejected}
    assert "consent_id" in reasons[3] and "more cells" in reasons[4]
    assert "purpose" in reasons[5] and "last change" in reasons[7]
    assert all("11111111111" not in r and "22222222222" not in r for r in reasons.values())
    with engine.connect() as conn:
        (alice,) = register.list_for_subject(conn, "11111111111")
        assert (alice.consent_id, alice.status, alice.data_life) == (kept, "PAUSED", "P1Y")
        assert alice.valid_until is not None and alice.valid_until.isoformat().startswith(
            "2030-02-01T00:00"
        )  # a bare date covers that whole day
        assert len(register.list_for_subject(conn, "55555555555")) == 1
        assert register.list_for_subject(conn, "44444444444") == []


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("subject_id,colour\n1,red\n", "colour"),
        ("", "header"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
    ],
)
def test_unreadable_files_import_nothing(
    tmp_path: Path, keystore: KeyStore, text: str | bytes, what: str
) -> None:
    path = tmp_path / "in.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn, pytest.raises(BadInput, match=what):
        import_consents(ConsentRegister(keystore.audit_key()), conn, path)
