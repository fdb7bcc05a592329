"""One staged segment (or load part) as read once, and what every subscription derives alike.

Why: a run delivers the same staged segment to every subscription of its dataset. Reading
it, resolving it to the current schema, computing its subjects' audit pseudonyms and
decoding them for the access index are the same work for each of them; `SharedPiece`
does that work once and each subscription's delivery takes its own rows of it.

What a caller must know: `read_shared` appends `ROW_COLUMN` (each row's position in the
piece) to the table, so that a subscription's allowed rows, after decisions and
suppression, still name the piece's rows their subjects come from (`rows_of`). That
column never leaves: minimization keeps only the subscription's fields. The subject
grouping is computed on first use, by whichever audit thread asks first, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

import audit
import schemas
from exchange.run import initial_load
from exchange.run.columns import SUBJECT_REF_COLUMN

if TYPE_CHECKING:
    from exchange.catalog import Dataset
    from exchange.ctx import StepContext
    from exchange.run.initial_load import Piece

__all__ = ["ROW_COLUMN", "SharedPiece", "read_ahead", "read_key", "read_shared"]

ROW_COLUMN = "__govbus_row"


def read_key(piece: Piece) -> tuple[str, ...]:
    """What identifies a piece's bytes: the segment, or the load part and its backfill bound.

    Two subscriptions loading the same snapshot part share its read although their load
    ids (the pieces' `stage_id`) differ.
    """
    if piece.part is not None:
        return ("part", piece.part, piece.since or "")
    return ("segment", piece.stage_id, str(piece.segment))


@dataclass
class SharedPiece:
    """A piece's rows (current schema, `ROW_COLUMN` appended) and their subjects, computed once."""

    ctx: StepContext
    dataset: Dataset
    table: pa.Table
    _refs: pa.Array | pa.ChunkedArray | None = None
    _groups: audit.SubjectGroups | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def num_rows(self) -> int:
        """Rows read from the staging area."""
        return self.table.num_rows

    def refs(self) -> pa.Array | pa.ChunkedArray:
        """Audit pseudonyms of every row's subject: staged with the rows, else computed now (once)."""
        with self._lock:
            if self._refs is None:
                if SUBJECT_REF_COLUMN in self.table.column_names:
                    self._refs = self.table[SUBJECT_REF_COLUMN]
                else:
                    subject = self.table[self.dataset.contract.subject_field]
                    self._refs = self.ctx.register.subject_refs(subject)
            return self._refs

    def groups_of(self, rows: np.ndarray) -> list[tuple[int, bytes]]:
        """The access-index groups of the subjects of `rows` (see `audit.SubjectGroups`)."""
        refs = self.refs()
        with self._lock:
            if self._groups is None:
                self._groups = audit.SubjectGroups(refs)
            groups = self._groups
        return groups.of(rows)


def rows_of(table: pa.Table) -> np.ndarray:
    """The piece positions of `table`'s rows (a subset of a `SharedPiece`'s, in order)."""
    column = table[ROW_COLUMN]
    return column.to_numpy() if column.num_chunks == 1 else column.combine_chunks().to_numpy()


def read_shared(ctx: StepContext, dataset: Dataset, piece: Piece) -> SharedPiece:
    """Read `piece` from the staging area once, as the current schema (Avro resolution)."""
    table = initial_load.read_piece(ctx, piece, dataset.contract.cursor_field)
    # Staged under an older schema version? Read it as the current one.
    table = schemas.resolve_staged(table, piece.fingerprint, dataset.versions, dataset.schema)
    positions = pa.array(np.arange(table.num_rows, dtype=np.int64))
    return SharedPiece(ctx, dataset, table.append_column(ROW_COLUMN, positions))


def read_ahead(
    ctx: StepContext, dataset: Dataset, pieces: Sequence[Piece]
) -> Generator[tuple[Piece, SharedPiece], None, None]:
    """Each of `pieces` with its rows (`read_shared`), in order, the next one read on another
    thread while the caller sends this one.

    A read is mostly Parquet decoding, which releases the GIL: on two cores it costs a
    lone delivery almost no time beside the send. At most two pieces are held at once. A
    read's error is raised when its piece's turn comes, as a read in the loop would; closing
    the iterator early (the caller's send failed) waits for the read under way and drops it.
    """
    if not pieces:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="govbus-read") as reader:
        ahead: Future[SharedPiece] = reader.submit(read_shared, ctx, dataset, pieces[0])
        for index, piece in enumerate(pieces):
            current = ahead
            if index + 1 < len(pieces):
                ahead = reader.submit(read_shared, ctx, dataset, pieces[index + 1])
            yield piece, current.result()
