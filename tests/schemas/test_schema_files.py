"""Loading `.avsc` files: versions, canonical form, fingerprints, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro.schema
import pyarrow as pa
import pytest

from govbus.errors import BadConfiguration
from schemas import AvroSchema, load_schema, parse_schema

REPO = Path(__file__).resolve().parents[2]
TAX_V1 = REPO / "catalog" / "datasets" / "tax.income" / "schema" / "v1.avsc"


def test_tax_income_fingerprints_equal_fastavro_and_never_change() -> None:
    schema = load_schema(TAX_V1)
    reference = fastavro.schema.to_parsing_canonical_form(fastavro.schema.load_schema(str(TAX_V1)))
    assert schema.canonical == reference
    assert schema.fingerprint_crc64 == fastavro.schema.fingerprint(reference, "CRC-64-AVRO")
    assert schema.fingerprint_sha256 == fastavro.schema.fingerprint(reference, "SHA-256")
    # A published version is immutable: these are the fingerprints v1 was released with.
    assert schema.fingerprint_crc64 == "e0e7c75fb47abff2"
    assert schema.fingerprint_sha256 == ("e25da18adb9ab229180e3c6033b5a8d97734356767aa34ffb93cff54a0fcac2d")


def test_tax_income_loads_with_version_name_and_arrow_shape() -> None:
    schema = load_schema(TAX_V1)
    assert schema.name == "gov.tax.income.IncomeReturn"
    assert schema.version == 1
    assert schema.source == str(TAX_V1)
    assert schema.field_names[:3] == ("return_id", "national_id", "tax_year")
    assert schema.arrow.field("gross_income").type == pa.decimal128(14, 2)
    assert schema.arrow.field("updated_at").type == pa.timestamp("us", tz="UTC")
    assert schema.is_nullable("postal_code") and not schema.is_nullable("national_id")
    assert schema.field_type("postal_code") == ["null", "string"]
    assert schema.field_default("postal_code") == (True, None)
    assert schema.field_default("tax_year") == (False, None)
    assert schema.describe_field("tax_due") == "decimal(14,2)"


def test_formatting_does_not_change_the_fingerprint_but_a_type_does(tmp_path: Path) -> None:
    document = json.loads(TAX_V1.read_text())
    compact = tmp_path / "v7.avsc"
    compact.write_text(json.dumps(document, separators=(",", ":")))
    reloaded = load_schema(compact)
    assert reloaded.version == 7
    assert reloaded.fingerprint_sha256 == load_schema(TAX_V1).fingerprint_sha256

    document["fields"][2]["type"] = "long"
    changed = parse_schema(document)
    assert changed.version is None and changed.source == "<inline>"
    assert changed.fingerprint_crc64 != reloaded.fingerprint_crc64


def test_equal_schemas_compare_equal_and_hash() -> None:
    one, two = load_schema(TAX_V1), load_schema(TAX_V1)
    assert isinstance(one, AvroSchema)
    assert one == two and hash(one) == hash(two)


def test_a_file_not_named_vN_has_no_version(tmp_path: Path) -> None:
    other = tmp_path / "income.avsc"
    other.write_text(TAX_V1.read_text())
    assert load_schema(other).version is None


def test_malformed_json_names_the_file_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "v2.avsc"
    broken.write_text('{\n  "type": "record",\n  "name": "X",\n  "fields": [,]\n}\n')
    with pytest.raises(BadConfiguration) as err:
        load_schema(broken)
    assert err.value.where == str(broken)
    assert "line 4, column 14" in err.value.message
    assert err.value.hint


def test_an_invalid_schema_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "v3.avsc"
    bad.write_text(json.dumps({"type": "record", "name": "X", "fields": [{"name": "a", "type": "Nope"}]}))
    with pytest.raises(BadConfiguration, match="invalid Avro schema") as err:
        load_schema(bad)
    assert err.value.where == str(bad)


def test_an_unsupported_union_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "v4.avsc"
    fields = [{"name": "ok", "type": "int"}, {"name": "either", "type": ["null", "int", "string"]}]
    bad.write_text(json.dumps({"type": "record", "name": "X", "fields": fields}))
    with pytest.raises(BadConfiguration, match="not supported") as err:
        load_schema(bad)
    assert err.value.where == f"{bad}: either"


@pytest.mark.parametrize("document", ['"string"', '["null", "int"]', "[]", "42"])
def test_the_top_level_must_be_a_record(document: str) -> None:
    with pytest.raises(BadConfiguration, match="must be a record"):
        parse_schema(document, source="inline.avsc")


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(BadConfiguration, match="cannot read") as err:
        load_schema(tmp_path / "v9.avsc")
    assert err.value.where == str(tmp_path / "v9.avsc")


def test_unknown_field_lookup_is_a_configuration_error() -> None:
    with pytest.raises(BadConfiguration, match="no field 'salary'"):
        load_schema(TAX_V1).field_type("salary")
