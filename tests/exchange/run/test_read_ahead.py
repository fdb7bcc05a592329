"""A lone delivery reads the next piece while it sends this one (exchange.run.shared_piece.read_ahead):
same pieces, same order, a read's error at its piece's turn, never more than one read ahead."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from exchange.run import shared_piece


class Reads:
    """Stands in for `read_shared`: logs each read and the thread it ran on."""

    def __init__(self, fail: int | None = None) -> None:
        self.started: list[int] = []
        self.threads: set[int] = set()
        self.fail = fail

    def __call__(self, ctx: Any, dataset: Any, piece: int) -> str:
        self.started.append(piece)
        self.threads.add(threading.get_ident())
        if piece == self.fail:
            raise OSError(f"read {piece}")
        return f"rows of {piece}"


def test_pieces_come_in_order_each_read_once_on_another_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = Reads()
    monkeypatch.setattr(shared_piece, "read_shared", reads)
    seen = []
    for piece, shared in shared_piece.read_ahead(None, None, [0, 1, 2, 3]):  # type: ignore[arg-type]
        assert len(reads.started) <= piece + 2  # this piece and at most the next
        seen.append((piece, shared))
    assert seen == [(n, f"rows of {n}") for n in range(4)]
    assert reads.started == [0, 1, 2, 3]
    assert threading.get_ident() not in reads.threads


def test_a_failed_read_is_raised_at_its_pieces_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_piece, "read_shared", Reads(fail=2))
    sent: list[int] = []

    def send_all() -> None:
        for piece, _ in shared_piece.read_ahead(None, None, [0, 1, 2, 3]):  # type: ignore[arg-type]
            sent.append(piece)

    with pytest.raises(OSError, match="read 2"):
        send_all()
    assert sent == [0, 1]


def test_stopping_early_leaves_no_reader_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = Reads()
    monkeypatch.setattr(shared_piece, "read_shared", reads)
    pieces = shared_piece.read_ahead(None, None, list(range(10)))  # type: ignore[arg-type]
    next(pieces)
    pieces.close()  # the caller's send failed
    assert reads.started == [0, 1]
    assert not [t for t in threading.enumerate() if t.name.startswith("govbus-read")]
    assert list(shared_piece.read_ahead(None, None, [])) == []  # type: ignore[arg-type]
