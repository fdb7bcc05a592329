"""One output layer for every listing command: `--format table|json|csv`, tables never cut.

People read tables; scripts read JSON or CSV. Every command that lists things (`run`,
`status`, `quarantine list | show`, `audit subject`, `consent show`, `subscription list |
show`, `catalog list | show`) takes `--format` and prints through here, so all of them
behave alike (docs/cli-output.md documents each shape):

* **json**: `emit_json` prints the command's shape (a view of `exchange.views`, built of
  plain values: keys in a fixed order, times as ISO 8601 text in UTC, lists as arrays),
  indented, UTF-8, never wrapped. Nothing else goes to stdout; notices go to stderr.
* **csv**: `emit_csv` prints a header of the declared columns — always, also when there
  is no row, so a script reading an empty result sees the same columns — then one line
  per row: lists joined with `;`, booleans `true` / `false`, empty for null, objects
  (and lists of objects) as compact JSON.
* **table**: `print_table` prints a Rich table whose cells wrap (fold) instead of ending
  in `…`, so no value is ever cut. On a terminal it fits the terminal's width. Piped or
  redirected (a file, `less`, `grep`), where Rich would assume 80 columns, it is printed
  as wide as its content, at least `COLUMNS` when that is set: one line per row.

Imported by `govbus --help` (through the command modules): typer, rich and the standard
library only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Column, Table
from rich.text import Text

from exchange.cli.common import console
from govbus.instants import as_utc

__all__ = [
    "Format",
    "FormatOption",
    "cell_text",
    "csv_text",
    "emit_csv",
    "emit_json",
    "json_text",
    "never_cut",
    "print_table",
    "print_whole",
]

_WIDEST = 10_000  # measuring a renderable's natural width: as if the page had no edge
_TEXT_MIN = 12  # the least a text column keeps when whole-word columns take their width


class Format(StrEnum):
    """`--format` of a listing command: a table for people, JSON or CSV for scripts."""

    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    Format,
    typer.Option("--format", help="table (for people), json or csv (for scripts; docs/cli-output.md)."),
]


def json_text(shape: Any) -> str:
    """`shape` (plain values, dataclasses, times) as indented JSON text."""
    return json.dumps(shape, indent=2, ensure_ascii=False, default=_plain)


def emit_json(shape: Any) -> None:
    """Print `shape` as JSON on stdout, as is (never wrapped or highlighted)."""
    typer.echo(json_text(shape))


def cell_text(value: Any) -> str:
    """One CSV cell: empty for null, `true`/`false`, lists joined with `;`, ISO times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple) and not any(isinstance(v, Mapping) or is_dataclass(v) for v in value):
        return ";".join(cell_text(v) for v in value)
    if isinstance(value, Mapping | list | tuple) or is_dataclass(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """The header `columns`, then one line per row (a row's other keys are left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row.get(column)) for column in columns])
    return out.getvalue()


def emit_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Print the CSV of `rows` on stdout; the header is printed even with no row."""
    typer.echo(csv_text(columns, rows), nl=False)


def never_cut(table: Table, width: int | None = None) -> Table:
    """The table with every column folding long values onto more lines instead of `…`.

    Given the terminal's `width`, the columns whose values are single words (ids, counts,
    times) are also kept whole (`no_wrap`) when the table still fits with the other
    columns at `_TEXT_MIN` characters: the text columns then wrap between their words and
    `statistics.regional-income` stays on one line. When it would not fit, every column
    folds instead (Rich crops a `no_wrap` value that has no room)."""
    words: list[bool] = []
    for column in table.columns:
        if column.overflow in ("ellipsis", "crop"):
            column.overflow = "fold"
        texts = [_plain_text(cell) for cell in column.cells]
        words.append(bool(texts) and all(len(text.split()) <= 1 for text in texts))
    if width is None:
        return table
    _, right, _, left = Padding.unpack(table.padding)
    needed = sum(
        _widest(column) if whole else min(_widest(column), _TEXT_MIN)
        for column, whole in zip(table.columns, words, strict=True)
    )
    needed += len(table.columns) * (left + right + 1) + 1
    if needed <= width:
        for column, whole in zip(table.columns, words, strict=True):
            column.no_wrap = column.no_wrap or whole
    return table


def _widest(column: Column) -> int:
    """The width of a column's widest value or header."""
    return max(
        [cell_len(column.header if isinstance(column.header, str) else "")]
        + [cell_len(_plain_text(cell)) for cell in column.cells]
    )


def _plain_text(cell: Any) -> str:
    """A cell's text without its markup (`[green]ok[/]` is 2 characters wide)."""
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return cell.plain if isinstance(cell, Text) else ""


def print_table(table: Table, target: Console | None = None) -> None:
    """Print a table that wraps, never cuts (see the module doc)."""
    out = target if target is not None else console
    print_whole(never_cut(table, out.width if out.is_terminal else None), out)


def print_whole(renderable: Any, target: Console | None = None) -> None:
    """Print at the terminal's width; piped, at the renderable's own width (at least the
    width Rich follows, COLUMNS or 80), so nothing wraps early or is cut."""
    out = target if target is not None else console
    if out.is_terminal:
        out.print(renderable)
        return
    natural = Measurement.get(out, out.options.update_width(_WIDEST), renderable).maximum
    following = out.width
    out.width = max(following, natural)
    try:
        out.print(renderable, highlight=False)
    finally:
        out.width = following  # a followed width resumes following COLUMNS


def _plain(value: Any) -> Any:
    """What `json` cannot write by itself: times as ISO text (UTC), decimals as text, dataclasses."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
