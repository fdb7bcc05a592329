"""Which records are rejected, and why, from the failures of their fields.

A field failure counts only under the field's `on_bad_value: reject` policy (the decoder
has already turned the others into nulls or zeros). Fields outside any REDEFINES reject
the record on their own. Fields of a REDEFINES area are alternative views: a view fails
when one of its fields (or an area nested in it) fails, and the area fails — rejecting the
record — only when every view that applies to the record fails. A view applies to every
record unless a segment map selects views per record (`connectors.mainframe.segments`);
an area none of whose views applies to a record cannot fail for it.

The reason names the failing field that comes first in the copybook (for a failing area,
the first failing field of its first view that applies), its copybook line, the byte
offset in the file of its first offending byte and the 1-based record number, never a
value: "civil.dat byte 123 (record 4, field amount at civil.cpy:12): bad packed digit".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.field_codes import REASONS
from connectors.mainframe.record_layout import RecordLayout


class FirstFailure:
    """Per record: the first field (index into the layout) that failed, its code and byte."""

    def __init__(self, n: int) -> None:
        self.field = np.full(n, -1, dtype=np.int32)
        self.code = np.zeros(n, dtype=np.uint8)
        self.byte = np.zeros(n, dtype=np.int64)

    def note(self, index: int, failure: np.ndarray, absolute: np.ndarray) -> None:
        """Record field `index`'s failures where no earlier field failed."""
        self.take_arrays(index, failure, absolute, failure != 0)

    def take_arrays(self, index: int, failure: np.ndarray, absolute: np.ndarray, rows: np.ndarray) -> None:
        """Like `note`, for the given rows only."""
        rows = rows & ((self.field < 0) | (self.field > index))
        self.field[rows] = index
        self.code[rows] = failure[rows]
        self.byte[rows] = absolute[rows]

    def merge(self, other: FirstFailure, rows: np.ndarray | None = None) -> None:
        """Take `other`'s failure where it is earlier in the layout (in `rows` only)."""
        better = (other.field >= 0) & ((self.field < 0) | (other.field < self.field))
        if rows is not None:
            better &= rows
        self.field[better] = other.field[better]
        self.code[better] = other.code[better]
        self.byte[better] = other.byte[better]


def verdict(
    layout: RecordLayout,
    direct: Mapping[tuple[str, str] | None, FirstFailure],
    active: Mapping[str, np.ndarray],
    n: int,
) -> FirstFailure:
    """The failure that rejects each record (field -1: none), from the failures of the
    fields of each view (`direct`, keyed by (area, view), None outside REDEFINES) and the
    views that apply to each record (`active`, by view; absent: every record)."""
    tree = layout.overlay_tree
    children: dict[tuple[str, str] | None, list[str]] = {}
    for overlay in tree.values():
        children.setdefault(overlay.parent, []).append(overlay.area)

    def view_failure(key: tuple[str, str]) -> FirstFailure:
        failed = FirstFailure(n)
        if key in direct:
            failed.merge(direct[key])
        for area in children.get(key, []):
            failed.merge(area_failure(area))
        return failed

    def area_failure(area: str) -> FirstFailure:
        every = np.ones(n, dtype=bool)
        applies = np.zeros(n, dtype=bool)
        first = FirstFailure(n)
        for view in tree[area].views:
            failed = view_failure((area, view))
            uses = active.get(view)
            uses = np.ones(n, dtype=bool) if uses is None else uses
            fails = failed.field >= 0
            every &= fails | ~uses
            applies |= uses
            first.merge(failed, uses & fails & (first.field < 0))
        first.field[~(every & applies)] = -1
        return first

    record = FirstFailure(n)
    if None in direct:
        record.merge(direct[None])
    for area in children.get(None, []):
        record.merge(area_failure(area))
    return record


def messages(
    failed: FirstFailure,
    layout: RecordLayout,
    file: str,
    positions: np.ndarray,
    first_record: int,
    problems: Mapping[int, str],
) -> tuple[pa.Array, np.ndarray]:
    """The error column (null, a field failure or a record problem, worded vectorized) and
    the rejected rows as a boolean mask."""
    n = len(failed.field)
    problem_rows = np.array(sorted(problems), dtype=np.int64)
    failed.field[problem_rows] = -1
    rows = np.flatnonzero(failed.field >= 0)
    if not len(rows) and not len(problem_rows):
        return pa.nulls(n, pa.string()), np.zeros(n, dtype=bool)
    labels = [f"{f.name} at {f.where}" if f.where else f.name for f in layout.fields]
    field_texts = pc.binary_join_element_wise(
        f"{file} byte ",
        pa.array(failed.byte[rows]).cast(pa.string()),
        " (record ",
        pa.array(first_record + rows + 1).cast(pa.string()),
        ", field ",
        pa.array(labels).take(pa.array(failed.field[rows])),
        "): ",
        pa.array(REASONS).take(pa.array(failed.code[rows])),
        "",
    )
    problem_texts = pa.array(
        [
            f"{file} byte {positions[row]} (record {first_record + row + 1}): {problems[row]}"
            for row in problem_rows
        ],
        pa.string(),
    )
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    index[problem_rows] = len(rows) + np.arange(len(problem_rows))
    texts = pa.concat_arrays([field_texts, problem_texts]).take(pa.array(index, mask=index < 0))
    return texts, index >= 0
