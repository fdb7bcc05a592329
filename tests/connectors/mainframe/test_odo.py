"""OCCURS … DEPENDING ON: occurrences past the count are null, what follows moves up,
and records of the `odo` format are as long as their counts make them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa

from connectors import FixedWidthSource, decode_records, parse_copybook
from connectors.mainframe.decode_options import DecodeOptions
from tests.connectors.mainframe.test_fixed_width_encoding import packed, text, zoned

ERROR = "_govbus_source_error"
COPYBOOK = """\
       01  ORDER.
           05  ORDER-ID      PIC X(4).
           05  LINE-COUNT    PIC 9(2).
           05  ORDER-LINE OCCURS 0 TO 5 TIMES DEPENDING ON LINE-COUNT.
               10  ITEM      PIC X(3).
               10  QTY       PIC S9(3) COMP-3.
           05  NOTE-COUNT    PIC 9.
           05  NOTES OCCURS 1 TO 3 DEPENDING ON NOTE-COUNT PIC X(2).
           05  TOTAL         PIC S9(7)V99 COMP-3.
"""
LAYOUT = parse_copybook(COPYBOOK, name="order.cpy")


def order(number: int, lines: list[tuple[str, int]], notes: list[str], total: int) -> bytes:
    """An order as a COBOL program writes it: only the occurrences it has."""
    return b"".join(
        [text(f"{number:04d}", 4), zoned(len(lines), 2, signed=False)]
        + [text(item, 3) + packed(qty, 3) for item, qty in lines]
        + [zoned(len(notes), 1, signed=False)]
        + [text(note, 2) for note in notes]
        + [packed(total, 9)]
    )


def test_the_layout_declares_the_tables_at_full_size() -> None:
    (lines, notes) = LAYOUT.tables
    assert (lines.name, lines.counter, lines.offset, lines.size, lines.minimum, lines.maximum) == (
        "order_line", "line_count", 6, 5, 0, 5,
    )  # fmt: skip
    assert (notes.counter, notes.offset, notes.minimum, notes.maximum) == ("note_count", 32, 1, 3)
    assert LAYOUT.record_length == 6 + 25 + 1 + 6 + 5
    assert LAYOUT.field("qty_2").table == "order_line" and LAYOUT.field("qty_2").occurrence == 2


def test_fields_after_a_table_move_up_and_absent_occurrences_are_null() -> None:
    records = [order(1, [("AAA", 1), ("BBB", -2)], ["x1"], 12345), order(2, [], ["y1", "y2", "y3"], -1)]
    width = LAYOUT.record_length
    buffer = np.frombuffer(b"".join(r.ljust(width, b"\0") for r in records), np.uint8).reshape(2, -1)
    rows = decode_records(buffer, LAYOUT, lengths=np.array([len(r) for r in records])).to_pylist()
    first, second = rows
    assert first[ERROR] is None and second[ERROR] is None
    assert (first["item_1"], first["qty_2"], first["item_3"], first["notes_1"], first["notes_2"]) == (
        "AAA", -2, None, "x1", None,
    )  # fmt: skip
    assert str(first["total"]) == "123.45" and str(second["total"]) == "-0.01"
    assert second["item_1"] is None and second["notes_3"] == "y3"


def test_a_count_outside_the_table_rejects_the_record_naming_the_counter() -> None:
    record = bytearray(order(1, [("AAA", 1)], ["x1"], 5))
    record[4:6] = zoned(6, 2, signed=False)  # more lines than the table holds
    buffer = np.frombuffer(bytes(record).ljust(LAYOUT.record_length, b"\0"), np.uint8).reshape(1, -1)
    row = decode_records(buffer, LAYOUT, file="o.dat").to_pylist()[0]
    assert row[ERROR] == (
        "o.dat byte 4 (record 1, field line_count at order.cpy:3): "
        "OCCURS DEPENDING ON count outside the table's range"
    )


def test_maximum_storage_reads_full_tables() -> None:
    layout = parse_copybook("01 R.\n 05 N PIC 9.\n 05 T OCCURS 3 DEPENDING ON N PIC X.\n 05 TAIL PIC X.")
    buffer = np.frombuffer(text("2ABxZ", 5), np.uint8).reshape(1, -1)
    full = decode_records(buffer, layout, options=DecodeOptions(odo_storage="maximum")).to_pylist()[0]
    assert (full["t_1"], full["t_2"], full["t_3"], full["tail"]) == ("A", "B", None, "Z")
    actual = decode_records(buffer, layout).to_pylist()[0]
    assert (actual["t_2"], actual["tail"]) == ("B", "x")


def reference_lengths(data: bytes) -> list[int]:
    """Order lengths, walked the slow way."""
    lengths, at = [], 0
    while at < len(data):
        lines = int(data[at + 4 : at + 6].decode("cp037"))
        notes = int(data[at + 6 + 5 * lines : at + 7 + 5 * lines].decode("cp037"))
        lengths.append(6 + 5 * lines + 1 + 2 * notes + 5)
        at += lengths[-1]
    return lengths


def test_odo_records_back_to_back_are_framed_and_resume(tmp_path: Path) -> None:
    rng = random.Random(7)
    orders = []
    for i in range(3000):
        lines = [(f"I{j:02d}", rng.randrange(-999, 1000)) for j in range(rng.randrange(6))]
        orders.append(
            (i, lines, [f"n{k}" for k in range(rng.randrange(1, 4))], rng.randrange(-(10**9), 10**9))
        )
    data = b"".join(order(*o) for o in orders)
    (tmp_path / "order.cpy").write_text(COPYBOOK)
    (tmp_path / "orders.dat").write_bytes(data + b"\xf0")  # a 1-byte fragment at the end
    source = FixedWidthSource(tmp_path / "orders.dat", copybook=tmp_path / "order.cpy", record_format="odo")
    batches = list(source.read(None, batch_size=700))
    table = pa.concat_tables(b.data for b in batches)
    assert table.num_rows == 3001 and table.column(ERROR).null_count == 3000
    assert table.column("order_id").to_pylist()[:3000] == [f"{i:04d}" for i in range(3000)]
    assert table.column("total").to_pylist()[-2] is not None
    assert table.column(ERROR)[-1].as_py() == (
        f"orders.dat byte {len(data)} (record 3001): a 1-byte fragment is too short for a record"
    )
    assert sum(reference_lengths(data)) == len(data)
    resumed = list(source.read(batches[1].cursor, batch_size=700))
    assert (
        pa.concat_tables(b.data for b in resumed).column("order_id").to_pylist()
        == (table.column("order_id").to_pylist()[1400:])
    )
