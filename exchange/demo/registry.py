"""The Civil Registry of the sample deployment: a nightly mainframe export.

The registry's mainframe writes every resident as an 80-byte EBCDIC (cp037) record laid
out by `catalog/datasets/registry.residents/residents.cpy` — text fields, zoned digits
and a packed-decimal (COMP-3) allowance — into a drop folder. About 1 % of the records
are damaged the way real exports are (a bad packed digit, letters in a date) so that
the demo shows the bus quarantining them with their byte offset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from exchange.bus import Bus

ENCODING = "cp037"
SURNAMES = (
    "Virtanen",
    "Korhonen",
    "Nieminen",
    "Mäkinen",
    "Hämäläinen",
    "Laine",
    "Heikkinen",
    "Koskinen",
    "Järvinen",
    "Lehtonen",
    "Saarinen",
    "Salminen",
)
GIVEN = ("Aino", "Eino", "Helmi", "Onni", "Venla", "Leevi", "Ilona", "Väinö", "Siiri", "Toivo")


def export_dir(bus: Bus) -> Path:
    """Where the Civil Registry drops its nightly fixed-width exports."""
    return bus.settings.agencies_dir / "registry" / "export"


def _text(value: str, width: int) -> bytes:
    return value[:width].ljust(width).encode(ENCODING)


def _zoned(value: int, width: int) -> bytes:
    return str(value).rjust(width, "0").encode(ENCODING)


def _packed(cents: int, digits: int = 9) -> bytes:
    """COMP-3: two digits a byte, the sign in the last nibble (C plus, D minus)."""
    nibbles = str(abs(cents)).rjust(digits, "0") + ("D" if cents < 0 else "C")
    return bytes.fromhex(nibbles)


def write_export(bus: Bus, people: np.ndarray, round_no: int) -> tuple[Path, int]:
    """Write `residents-<round>.dat` atomically (a `.tmp` name the bus ignores, then rename)."""
    rng = np.random.default_rng(1000 + round_no)
    records = []
    broken = 0
    for i, person in enumerate(people):
        household = int(rng.integers(1, 7)) + (round_no if i % 50 == 0 else 0)
        record = b"".join(
            (
                _text(str(person), 11),
                _text(SURNAMES[int(rng.integers(len(SURNAMES)))], 20),
                _text(GIVEN[int(rng.integers(len(GIVEN)))], 15),
                _zoned(
                    int(rng.integers(1930, 2020)) * 10_000
                    + int(rng.integers(1, 13)) * 100
                    + int(rng.integers(1, 29)),
                    8,
                ),
                _text(f"{int(rng.integers(101, 5000)):04d}", 4),
                _zoned(household, 2),
                _packed(int(rng.integers(0, 250_000))),
                _text("", 15),
            )
        )
        if i % 97 == 96:  # damaged in transit: a bad packed digit, or letters in a date
            record = (
                record[:62] + b"\xfa" + record[63:]
                if broken % 2 == 0
                else (record[:46] + "19X1".encode(ENCODING) + record[50:])
            )
            broken += 1
        records.append(record)
    folder = export_dir(bus)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"residents-{round_no:04d}.dat"
    temp = folder / f"residents-{round_no:04d}.dat.tmp"
    temp.write_bytes(b"".join(records))
    os.replace(temp, target)
    return target, broken
