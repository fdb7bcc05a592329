"""Fuzzing the JSON Lines reader against Python's `json` module (issue 16's fuzz suite).

Files mixing JSON objects, other JSON values, deep nesting, long lines, garbage and
bytes that are not UTF-8, read with small limits. For each: no exception, no hang, and
every good row is the object `json.loads` reads from one line of the file (missing
keys as null), no value longer than `max_field_bytes`; every line is a row or blank.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors import SOURCE_ERROR, SOURCE_POSITION, JsonLinesFormat, Limits
from tests.connectors.fuzz_budget import fuzz

EXAMPLES = 300
LIMITS = Limits(max_field_bytes=16, max_line_bytes=200, max_depth=6)
KEYS = ("a", "b", "c")

FUZZ = fuzz(EXAMPLES)

# One JSON type per key (pyarrow infers a column's type per chunk, as documented).
objects = st.fixed_dictionaries(
    {},
    optional={
        "a": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
        "b": st.one_of(st.none(), st.text(alphabet='xyz é€"\\[]{}\n\t', max_size=24)),
        "c": st.one_of(st.none(), st.booleans()),
    },
).map(lambda value: json.dumps(value, ensure_ascii=False).encode())
deep = st.integers(1, 3000).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}")
garbage = st.binary(max_size=30).filter(lambda raw: b"\n" not in raw)
others = st.sampled_from(
    [b"[]", b"1", b'"x"', b"null", b"{", b'{"a":1', b"", b"  ", b'{"a":"Z\xffq"}', b"\r"]
)
lines = st.lists(st.one_of(objects, objects, deep, garbage, others), max_size=25)


def reference(line: bytes) -> dict[str, Any] | None:
    """The object Python's json reads from the line, keys a, b, c (missing: None), or None."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or set(value) - set(KEYS):
        return None
    return {key: value.get(key) for key in KEYS}


@FUZZ
@given(content=lines)
def test_jsonl_delivers_only_what_json_reads(
    tmp_path_factory: pytest.TempPathFactory, content: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "f.jsonl"
    data = b"\n".join(content) + b"\n"
    path.write_bytes(data)
    tables = list(JsonLinesFormat(LIMITS).records(path, "f.jsonl", 0))
    expected = Counter(
        json.dumps(ref, sort_keys=True) for line in content if (ref := reference(line)) is not None
    )
    delivered = 0
    for table in tables:
        for row in table.to_pylist():
            if row[SOURCE_ERROR] is not None:
                assert row[SOURCE_ERROR].startswith("f.jsonl line ") and row[SOURCE_POSITION].startswith(
                    "f.jsonl:"
                )
                continue
            values = {key: row.get(key) for key in KEYS}
            assert (
                set(row) - {*KEYS, "_govbus_source_error", "_govbus_source_position", "_govbus_source_raw"}
                == set()
            )
            shown = json.dumps(values, sort_keys=True)
            assert expected[shown] > 0, (data, values)
            expected[shown] -= 1
            delivered += 1
            assert all(
                len(str(v).encode()) <= LIMITS.max_field_bytes for v in values.values() if isinstance(v, str)
            )
    assert delivered <= len(content)
