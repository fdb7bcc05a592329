"""The seg_id columns of a hierarchical export, and the records a segment map leaves out.

A record's `seg_id<k>` is the id ("<file>:<record number>") of its ancestor at level k of
the `parents` hierarchy (`connectors.mainframe.segments`), its own at its level, null
below. `Hierarchy` carries the open ancestors from one table of a file to the next (and,
through the source's cursor, to a resumed read). Vectorized: per level, the last record
of that level is a running maximum of row numbers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.mainframe.code_pages import CodePage
from connectors.mainframe.ebcdic_decode import decode_field
from connectors.mainframe.record_layout import RecordLayout
from connectors.mainframe.segments import SegmentMap, segment_index
from connectors.source_errors import SOURCE_ERROR


class Hierarchy:
    """The seg_id<k> columns of consecutive tables of one file (state carried across)."""

    def __init__(self, segments: SegmentMap, file: str, last: list[str | None] | None = None) -> None:
        self.segments, self.file = segments, file
        self.levels = len(segments.id_columns)
        self.last: list[str | None] = list(last) if last else [None] * self.levels
        by_id = segments.depth
        self._depth = np.array([by_id[sid] for sid in segments.ids] + [-1], dtype=np.int64)

    def columns(self, ids: pa.Array, first_record: int) -> list[pa.Array]:
        """The seg_id columns of records numbered from `first_record` (0-based).

        Record r at level d gets, for each k <= d, the last record at level k before it
        (itself for k = d) unless a record of a level above k came between; a record of an
        unknown segment gets nulls and changes nothing.
        """
        n = len(ids)
        depth = self._depth[segment_index(ids, self.segments)]  # -1: unknown id
        row = np.arange(n, dtype=np.int64)
        own = pc.binary_join_element_wise(
            f"{self.file}:", pa.array(first_record + row + 1).cast(pa.string()), ""
        )
        names = pa.concat_arrays([pa.array(self.last, pa.string()), own])  # carried ids first
        out = []
        shallower = np.full(n, -1, dtype=np.int64)  # the last record of a level above k
        for k in range(self.levels):
            last_k = np.maximum.accumulate(np.where(depth == k, row, -1)) if n else row
            in_chunk = last_k > shallower
            carried = (last_k < 0) & (shallower < 0) & (self.last[k] is not None)
            valid = (depth >= k) & (in_chunk | carried)
            pick = np.where(in_chunk, self.levels + last_k, k)
            out.append(names.take(pa.array(np.where(valid, pick, 0), mask=~valid)))
            shallower = np.maximum.accumulate(np.where((depth >= 0) & (depth <= k), row, -1)) if n else row
        known = np.flatnonzero(depth >= 0)
        if len(known):
            self.last = [column[int(known[-1])].as_py() for column in out]
        return out


def apply_segments(
    table: pa.Table,
    records: np.ndarray,
    layout: RecordLayout,
    page: CodePage,
    segments: SegmentMap,
    hierarchy: Hierarchy | None,
    first: int,
) -> pa.Table:
    """`table` (the decoded `records`, numbered from `first`) with the seg_id columns added
    before the error columns and the records `keep` / `unknown: skip` leave out removed.
    Ids are decoded again from the records so that a rejected record keeps its own; a
    rejected record whose id is unknown is kept (whose it is cannot be told)."""
    field = layout.field(segments.field)
    if records.shape[1] < field.offset + field.length:
        records = np.pad(records, ((0, 0), (0, field.offset + field.length - records.shape[1])))
    cols = np.ascontiguousarray(records[:, field.offset : field.offset + field.length])
    ids = decode_field(cols, field, page).values
    if hierarchy is not None:
        at = len(layout.fields)
        for k, column in enumerate(hierarchy.columns(ids, first)):
            table = table.add_column(at + k, pa.field(f"seg_id{k}", pa.string()), column)
    if segments.keep is None and segments.unknown != "skip":
        return table
    index = segment_index(ids, segments)
    rejected = table.column(SOURCE_ERROR).is_valid().to_numpy(zero_copy_only=False)
    keep = (index >= 0) | rejected if segments.unknown == "skip" else np.ones(len(index), dtype=bool)
    if segments.keep is not None:
        kept = [k for k, sid in enumerate(segments.ids) if sid in segments.keep]
        keep &= np.isin(index, kept) | (index < 0)
    return table.filter(pa.array(keep))
