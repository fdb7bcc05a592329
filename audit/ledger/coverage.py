"""Which delivery entries a signed checkpoint must already cover: rollbacks the chain cannot see.

Deleting the newest entries together with the checkpoints (and tiles) that covered them
leaves a shorter ledger whose chain, signatures and remaining checkpoints all hold. What
gives it away is what the bus guarantees about its runs: every run ends by signing a
checkpoint (`govbus run`: `exchange.run.runner.checkpoint_ledger` after the last
dataset; under Airflow the commit task, which runs when every delivery task is done,
whatever their outcome). Delivery entries are written only by runs. So:

* a ledger that holds delivery entries and no checkpoint at all is a problem: the only
  honest way to get there is a first run that has not finished (or died before its
  checkpoint), and the next run (or `govbus audit checkpoint`) ends it;
* a delivery entry the newest checkpoint does not cover (its seq is past the
  checkpoint's tree size) is a problem once it is older than `UNCOVERED_LIMIT` at the
  time of verification: no run, retries included, takes that long to reach its
  checkpoint, so the checkpoint that covered it was removed (or every run since has
  died before signing: run again).

Other entries (consents, quarantine views, requests, purges, key rotations) are
written between runs and wait for the next run's checkpoint, however long that is, so
they are not judged here; that the newest of them were not removed needs a head kept
elsewhere (`expected_head`, or outside witnesses).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Sequence
from datetime import datetime, timedelta

from audit.entries import DeliveryEntry
from audit.ledger.checkpoints import Checkpoint

UNCOVERED_LIMIT = timedelta(hours=24)
DELIVERY_KIND = DeliveryEntry.KIND


class DeliveryTimes:
    """The seq and time of every delivery entry fed, compactly (16 bytes each)."""

    def __init__(self) -> None:
        self.seqs = array("q")
        self.times = array("d")  # POSIX seconds

    def add(self, seq: int, kind: str, at: datetime) -> None:
        """Remember the entry if it is a delivery."""
        if kind == DELIVERY_KIND:
            self.seqs.append(seq)
            self.times.append(at.timestamp())


def _entries(count: int) -> str:
    return f"{count} delivery entr{'y' if count == 1 else 'ies'}"


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{delta.total_seconds() / 60:.0f} minutes"


def coverage_problems(
    deliveries: DeliveryTimes,
    checkpoints: Sequence[Checkpoint],
    now: datetime,
    limit: timedelta = UNCOVERED_LIMIT,
) -> list[tuple[int, str]]:
    """Problems named by the first delivery entry no checkpoint covers (see module doc)."""
    seqs = deliveries.seqs
    if not seqs:
        return []
    if not checkpoints:
        return [
            (
                seqs[0],
                f"the ledger holds {_entries(len(seqs))} but no checkpoint, though every run "
                "ends with one: checkpoints deleted with the newest entries (rolled back?), "
                "or the bus's first run has not finished (then run it again)",
            )
        ]
    newest = checkpoints[-1]
    first = bisect.bisect_right(seqs, newest.tree_size)
    if first == len(seqs):
        return []
    oldest = min(deliveries.times[first:])
    age = timedelta(seconds=now.timestamp() - oldest)
    if age <= limit:
        return []
    return [
        (
            seqs[first],
            f"{_entries(len(seqs) - first)} from entry {seqs[first]} on are not covered by the "
            f"newest checkpoint (#{newest.number}, {newest.tree_size} entries), and the oldest is "
            f"{_hours(age)} old: more than the {_hours(limit)} a run may take to sign its "
            "checkpoint (newer checkpoints deleted, rolled back?), or every run since died "
            "before its checkpoint (then run again)",
        )
    ]
