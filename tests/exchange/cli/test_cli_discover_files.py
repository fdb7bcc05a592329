"""`govbus discover --source KIND PATH`: drafts from CSV, JSON Lines, Parquet, Avro and
fixed-width files that lint, and whose schema reads the very files they were drafted from.

Each test writes a few files, drafts a dataset from them with the command line, lints the
draft as `govbus contract lint` does, and then reads the files through the drafted source
and conforms them to the drafted schema, as a stage would: no row may fail.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

import connectors
import contracts
import schemas
from exchange.cli.main import app

PURPOSE = "Lets the Benefits Agency check a claim against the person's own records."
runner = CliRunner(env={"COLUMNS": "200"})


def discover(*args: str, code: int = 0) -> Any:
    done = runner.invoke(app, ["discover", *args])
    assert done.exit_code == code, (done.output, done.exception)
    return done


def drafted(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    contract = yaml.safe_load((folder / "contract.yaml").read_text(encoding="utf-8"))
    schema = json.loads((folder / "schema" / "v1.avsc").read_text(encoding="utf-8"))
    return contract, schema


def fields_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {f["name"]: f["type"] for f in schema["fields"]}


def reads_back(folder: Path, home: Path) -> int:
    """Lint the draft, read its files through its source and conform them: rows read."""
    assert contracts.lint_contract(folder / "contract.yaml") == []
    contract, _ = drafted(folder)
    settings = {
        key: value.replace("${GOVBUS_HOME}", str(home)) if isinstance(value, str) else value
        for key, value in contract["source"].items()
    }
    source = connectors.make_source({**settings, "settle_seconds": 0}, key_fields=(), cursor_field=None)
    schema = schemas.load_schema(folder / "schema" / "v1.avsc")
    rows = 0
    try:
        for batch in source.read(None, batch_size=1000):
            data = batch.data
            if connectors.SOURCE_ERROR in data.column_names:
                assert pc.all(pc.is_null(data[connectors.SOURCE_ERROR])).as_py()
            result = schemas.conform(data, schema)
            assert result.issues.num_rows == 0, result.issues.to_pylist()
            rows += data.num_rows
    finally:
        source.close()
    return rows


def test_csv_types_from_the_sampled_text(govbus_home: Path, tmp_path: Path) -> None:
    drop = govbus_home / "agencies" / "benefits" / "drop"
    drop.mkdir(parents=True)
    (drop / "claims-1.csv").write_text(
        "claim_id,national_id,amount,filed_on,decided_at,approved,postal_code,ratio,note,children\n"
        "1,12345678901,1234.50,2024-05-01,2024-05-02T08:00:00Z,true,01234,1e-3,first,2\n"
        "2,22345678901,0.05,2024-05-03,2024-05-04T09:30:00+02:00,false,12345,2.5E1,,0\n"
        '3,32345678901,,2024-05-05,2024-05-06T10:00:00.250Z,TRUE,,3e0,"a, b",-1\n',
        encoding="utf-8",
    )
    out = tmp_path / "draft"
    done = discover("--source", "csv", str(drop), "--owner", "benefits", "--dataset", "benefits.claims",
                    "--purpose", PURPOSE, "--out", str(out))  # fmt: skip
    assert "review: types and nullability: from 3 sampled row(s)" in done.output
    contract, schema = drafted(out)
    assert contract["source"] == {
        "connector": "csv",
        "directory": "${GOVBUS_HOME}/agencies/benefits/drop",
        "pattern": "*.csv",
    }
    assert "cursor_field" not in contract and contract["key_fields"] == ["claim_id"]
    assert contract["subject_field"] == "national_id" and contract["purpose"] == PURPOSE
    types = fields_of(schema)
    assert types["claim_id"] == "string"  # an identifier, though digits: a label, not a number
    assert types["national_id"] == "string"  # an identifier: digits kept as text
    assert types["postal_code"] == ["null", "string"]  # a leading zero, and an empty field
    assert types["amount"] == [
        "null",
        {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2},
    ]
    assert types["filed_on"] == {"type": "int", "logicalType": "date"}
    assert types["decided_at"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert types["approved"] == "boolean" and types["ratio"] == "double"
    assert types["note"] == ["null", "string"] and types["children"] == "int"
    not_null = {e["kwargs"]["column"] for e in contract["expectations"] if e["type"].endswith("not_be_null")}
    assert not_null == {"claim_id", "national_id", "filed_on", "decided_at", "approved", "ratio", "children"}
    assert reads_back(out, govbus_home) == 3


def test_one_jsonl_file_with_numbers_lists_and_objects(govbus_home: Path, tmp_path: Path) -> None:
    drop = tmp_path / "events"
    drop.mkdir()
    lines = [
        {"event_id": f"E{i}", "count": i, "share": i + 0.5, "day": "2024-05-01", "tags": ["a", "b"],
         "place": {"city": "Oslo", "zip": "0150"}}
        for i in range(4)
    ]  # fmt: skip
    (drop / "events-1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "draft"
    discover("--source", "jsonl", str(drop / "events-1.jsonl"), "--owner", "health", "--purpose", PURPOSE,
             "--out", str(out))  # fmt: skip
    contract, schema = drafted(out)
    assert contract["id"] == "health.events_1" and contract["source"]["pattern"] == "*.jsonl"
    assert "absolute path" in " ".join(line for line in (out / "contract.yaml").read_text().splitlines())
    types = fields_of(schema)
    assert types["count"] == "long" and types["share"] == "double"
    assert types["day"] == {"type": "int", "logicalType": "date"}
    assert types["tags"] == {"type": "array", "items": ["null", "string"]}
    assert types["place"]["type"] == "record"
    assert reads_back(out, govbus_home) == 4


def test_parquet_and_avro_carry_their_types(govbus_home: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "pq"
    parquet.mkdir()
    table = pa.table(
        {
            "case_id": pa.array([1, 2, 3], pa.int64()),
            "amount": pa.array([Decimal("1.50"), None, Decimal("2.00")], pa.decimal128(10, 2)),
            "opened": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * 3, pa.timestamp("us", "UTC")),
            "digest": pa.array([b"\x00\x01", b"", b"\xff"]),
        }
    )
    pq.write_table(table, parquet / "cases.parquet")
    out = tmp_path / "pq-draft"
    discover(
        "--source", "parquet", str(parquet), "--owner", "justice", "--purpose", PURPOSE, "--out", str(out)
    )
    types = fields_of(drafted(out)[1])
    assert types["case_id"] == "long" and types["digest"] == "bytes"
    assert types["amount"] == [
        "null",
        {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
    ]
    assert types["opened"] == {"type": "long", "logicalType": "timestamp-micros"}
    assert reads_back(out, govbus_home) == 3

    avro = tmp_path / "av"
    avro.mkdir()
    avro_schema = {
        "type": "record",
        "name": "Payment",
        "fields": [
            {"name": "payment_id", "type": "string"},
            {"name": "paid_on", "type": {"type": "int", "logicalType": "date"}},
            {"name": "sum", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        ],
    }
    with (avro / "payments.avro").open("wb") as handle:
        fastavro.writer(handle, avro_schema, [
            {"payment_id": "P1", "paid_on": dt.date(2024, 5, 1), "sum": Decimal("10.00")},
            {"payment_id": "P2", "paid_on": dt.date(2024, 5, 2), "sum": Decimal("0.01")},
        ])  # fmt: skip
    out = tmp_path / "av-draft"
    discover("--source", "avro", str(avro), "--owner", "tax", "--purpose", PURPOSE, "--out", str(out))
    types = fields_of(drafted(out)[1])
    assert types == {
        "payment_id": "string",  # a typed string stays a string, whatever it looks like
        "paid_on": {"type": "int", "logicalType": "date"},
        "sum": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
    }
    assert reads_back(out, govbus_home) == 2


COPYBOOK = """\
       01  PAYMENT.
           05  PERSON-ID       PIC X(11).
           05  SURNAME         PIC X(10).
           05  MONTHS          PIC 9(2).
           05  AMOUNT          PIC 9(5)V99.
"""


def test_fixed_width_types_come_from_the_copybook(govbus_home: Path, tmp_path: Path) -> None:
    export = govbus_home / "agencies" / "registry" / "payments"
    export.mkdir(parents=True)
    copybook = tmp_path / "payment.cpy"
    copybook.write_text(COPYBOOK, encoding="ascii")
    records = [("12345678901", "NORDMANN", 12, 1234567), ("22345678901", "HANSEN", 3, 50)]
    data = b"".join(
        f"{pid}{name:<10}{months:02d}{amount:07d}".encode("ascii") for pid, name, months, amount in records
    )
    (export / "payments-1.dat").write_bytes(data)
    out = tmp_path / "draft"
    done = discover(
        "--source", "fixed_width", str(export), "--copybook", str(copybook), "--setting", "encoding=ascii",
        "--setting", "pattern=payments-*.dat", "--owner", "registry", "--dataset", "registry.payments",
        "--purpose", PURPOSE, "--out", str(out),
    )  # fmt: skip
    assert "${DATASET_DIR}/payment.cpy" in done.output
    contract, schema = drafted(out)
    assert contract["source"]["pattern"] == "payments-*.dat" and contract["source"]["encoding"] == "ascii"
    assert contract["source"]["copybook"] == str(copybook.resolve())
    assert "cursor_field" not in contract
    types = fields_of(schema)
    assert types == {
        "person_id": "string",
        "surname": "string",
        "months": "int",
        "amount": {"type": "bytes", "logicalType": "decimal", "precision": 7, "scale": 2},
    }
    lengths = {
        e["kwargs"]["column"]: e["kwargs"]["max_value"]
        for e in contract["expectations"]
        if e["type"] == "expect_column_value_lengths_to_be_between"
    }
    assert lengths == {"person_id": 11, "surname": 10}
    assert reads_back(out, govbus_home) == 2


def test_without_purpose_the_draft_holds_the_todo_lint_refuses(govbus_home: Path, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text("row_id,name\n1,x\n", encoding="utf-8")
    out = tmp_path / "draft"
    done = discover("--source", "csv", str(drop), "--out", str(out))
    assert "review: purpose" in done.output and "write the purpose" in done.output
    problems = contracts.lint_contract(out / "contract.yaml")
    assert [p.field for p in problems if p.field == "purpose"] == ["purpose"]


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--source", "xml", "{drop}"], 65, "unknown source kind 'xml'"),
        (["--source", "fixed_width", "{drop}"], 65, "needs its copybook"),
        (
            ["--source", "csv", "{drop}", "--copybook", "{drop}/a.csv"],
            65,
            "only fixed_width takes a copybook",
        ),
        (["--source", "csv", "{drop}/missing"], 78, "no such file or folder"),
        (["--source", "csv", "{drop}", "extra"], 65, "expects PATH"),
        (["--source", "csv", "{drop}", "--url-env", "X"], 65, "no --url-env"),
        (["--source", "csv", "{drop}", "--setting", "nonsense"], 65, "is not KEY=VALUE"),
        (["--source", "jsonl", "{drop}"], 65, "no readable row"),
        (["{drop}", "--setting", "delimiter=;"], 65, "add --source"),
    ],
)
def test_bad_arguments_are_one_clear_error(
    govbus_home: Path, tmp_path: Path, args: list[str], code: int, words: str
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_text("row_id\n1\n", encoding="utf-8")
    done = runner.invoke(app, ["discover", *(a.format(drop=drop) for a in args), "--stdout"])
    assert done.exit_code != 0
    error = done.exception
    assert getattr(error, "exit_code", None) == code and words in str(error), (done.output, error)
