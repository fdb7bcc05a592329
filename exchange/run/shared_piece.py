"""One staged segment (or load part) as read once, and what every subscription derives alike.

Why: a run delivers the same staged segment to every subscription of its dataset. Reading
it, resolving it to the current schema, finding its subjects' audit pseudonyms (staged
raw, ADR 0008) and its subject set for the access index are the same work for each of them; `SharedPiece`
does that work once and each subscription's delivery takes its own rows of it.

What a caller must know: `read_shared` appends `ROW_COLUMN` (each row's position in the
piece) to the table, so that a subscription's allowed rows, after decisions and
suppression, still name the piece's rows their subjects come from (`rows_of`). That
column never leaves: minimization keeps only the subscription's fields. The piece's
subject set (`audit.subject_sets`: the segment's, written when it was staged, or one
built from the rows for a piece without one) is found on first use, by whichever audit
thread asks first, under a lock.
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
    piece: Piece | None = None
    _refs: pa.Array | pa.ChunkedArray | None = None
    _subjects: audit.SubjectSet | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def num_rows(self) -> int:
        """Rows read from the staging area."""
        return self.table.num_rows

    def refs(self) -> pa.Array | pa.ChunkedArray:
        """Audit pseudonyms of every row's subject, raw (ADR 0008): staged with the rows, else
        computed now (once: a piece staged before the column existed)."""
        with self._lock:
            if self._refs is None:
                if SUBJECT_REF_COLUMN in self.table.column_names:
                    self._refs = self.table[SUBJECT_REF_COLUMN]
                else:
                    subject = self.table[self.dataset.contract.subject_field]
                    self._refs = self.ctx.register.subject_refs(subject, raw=True)
            return self._refs

    def subjects_of(self, rows: np.ndarray | None) -> tuple[audit.SubjectSet, np.ndarray]:
        """The piece's subject set and which of its subjects `rows` name (positions; None: all)."""
        with self._lock:
            if self._subjects is None:
                self._subjects = self._find_set()
            subjects = self._subjects
        return subjects, subjects.carried(rows)

    def _find_set(self) -> audit.SubjectSet:
        """The segment's set as staged; else (a load part, a segment staged before sets
        existed or rewritten by erasure since) one built from the rows, written by the
        delivery that uses it."""
        piece = self.piece
        if piece is not None and not piece.is_load:
            with self.ctx.engine.connect() as conn:
                found = audit.current_subject_set(conn, piece.stage_id, piece.segment, self.num_rows)
            if found is not None:
                return found
        return audit.build_subject_set(self.refs())


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
    return SharedPiece(ctx, dataset, table.append_column(ROW_COLUMN, positions), piece)


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
