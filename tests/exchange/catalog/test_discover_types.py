"""A drafted contract types each copybook field as the fixed-width reader delivers it."""

from __future__ import annotations

from connectors.mainframe.copybook import parse_copybook
from exchange.catalog.discover_types import copybook_type

COPYBOOK = """
       01 REC.
          05 NAME       PIC X(10).
          05 RATE       COMP-1.
          05 AMOUNT     COMP-2.
          05 COUNT      PIC S9(4) COMP.
          05 BIG        PIC 9(15).
          05 MONEY      PIC S9(7)V99 COMP-3.
          05 THOUSANDS  PIC 9(3)PPP.
"""


def test_each_usage_gets_the_type_the_reader_gives_it() -> None:
    layout = {f.name: f for f in parse_copybook(COPYBOOK, naming="leaf").fields}
    types = {name: copybook_type(field)[0] for name, field in layout.items()}
    assert types["name"] == "string" and copybook_type(layout["name"])[1] == 10
    assert types["rate"] == "float" and types["amount"] == "double"  # IBM hex floats, not ints
    assert types["count"] == "int" and types["big"] == "long"
    assert types["money"] == {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}
    assert types["thousands"] == "int"  # 3 digits and 3 P positions: up to 999,000 fits an int
