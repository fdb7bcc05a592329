"""`make bench`: a late subscriber's initial load on 1,000,000 rows, the two designs side by side.

ADR 0006 chose to keep a compacted snapshot of each dataset over re-reading the source
under a per-subscription cursor. This measures both in the same run, each step in its
own process (exchange_bench's harness), on tax.income read from a generated Parquet file:

* snapshot — what the bus does: the first commit folds the 1 M staged rows into the
  snapshot (the cost every dataset pays, subscriber or not); a subscriber approved later
  is delivered from it (its initial load); then a 1 % change set is committed into the
  1 M-row snapshot (the cost of keeping it, per run).
* re-read — the alternative: the source is read again from the start for the new
  subscriber (a stage of 1 M rows: read, conform, validate, write segments), then
  delivered like any stage.

Usage: python bench/initial_load_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exchange_bench import OUT, baseline, prepare, run_step

LATE = "statistics.tax-income"


def _without_subscribers(catalog: Path) -> Path:
    """A copy of the catalog where tax.income has no subscriber at all."""
    bare = catalog.parent / "catalog-bare"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(catalog, bare)
    for path in (bare / "subscriptions").glob("*.yaml"):
        path.unlink()
    return bare


def _only_late(catalog: Path) -> None:
    """The catalog keeps one subscription to tax.income: the late one (Parquet, pseudonymized)."""
    for name in ("benefits.yaml", "housing.yaml"):
        (catalog / "subscriptions" / name).unlink()


def _change(source: Path, share: float) -> int:
    """Append a change set to the source: `share` of the returns corrected a minute later."""
    table = pq.read_table(source)
    n = int(table.num_rows * share)
    changed = table.slice(0, n)
    later = pc.add(pc.max(table["updated_at"]), pa.scalar(60_000_000, pa.duration("us")))
    changed = changed.set_column(
        changed.schema.get_field_index("updated_at"),
        "updated_at",
        pa.array([later.as_py()] * n, table.schema.field("updated_at").type),
    )
    pq.write_table(pa.concat_tables([table, changed]), source, row_group_size=100_000)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = OUT / "initial-load"
    source, env = prepare(work, args.rows)
    catalog = Path(env["GOVBUS_CATALOG"])
    _only_late(catalog)
    bare = {**env, "GOVBUS_CATALOG": str(_without_subscribers(catalog))}
    base_s, _ = baseline(source, work)
    rows: list[tuple[str, float, float, int]] = []
    size = f"{args.rows:,} rows"

    def step(label: str, environment: dict[str, str], kind: str, arg: str, n: int) -> dict:
        seconds, rss, counts = run_step(environment, kind, arg, label.replace(" ", "-"))
        rows.append((label, seconds, rss, n))
        return counts

    step(f"stage {size}, no subscriber", bare, "stage", "tax.income", args.rows)
    step("commit: fold into snapshot", bare, "commit", "tax.income", args.rows)
    counts = step("initial load from snapshot", env, "deliver", LATE, args.rows)
    if counts.get("load_rows", 0) <= 0:
        sys.exit(f"the late subscriber got no initial load: {counts}")
    n = _change(source, 0.01)
    step("stage 1 % change set", env, "stage", "tax.income", n)
    step("deliver change set", env, "deliver", LATE, n)
    step("commit: change into snapshot", env, "commit", "tax.income", n)
    # The alternative: read the source again from the start for the subscriber.
    step("reset cursor", env, "reset", "tax.income", 1)
    step(f"re-read: stage {size} again", env, "stage", "tax.income", args.rows)
    step(f"re-read: deliver {size}", env, "deliver", LATE, args.rows)

    print(f"\n{'step':34} {'seconds':>8} {'rows/s':>12} {'peak RSS MiB':>13} {'× baseline':>11}")
    print(
        f"{'baseline (pyarrow read + write)':34} {base_s:8.2f} {args.rows / base_s:12,.0f} {'':13} {1:11.1f}"
    )
    for label, seconds, rss, count in rows:
        print(f"{label:34} {seconds:8.2f} {count / seconds:12,.0f} {rss:13.0f} {seconds / base_s:11.1f}")
    took = {label: seconds for label, seconds, _, _ in rows}
    snapshot = took["commit: fold into snapshot"] + took["initial load from snapshot"]
    reread = took[f"re-read: stage {size} again"] + took[f"re-read: deliver {size}"]
    print(f"\ninitial load, snapshot design: {snapshot:.2f} s (fold at first commit + load)")
    print(
        f"initial load, re-read design:  {reread:.2f} s (stage again + deliver), "
        f"{reread / snapshot:.2f}× the snapshot's"
    )
    print(f"cost of keeping the snapshot per 1 % change set: {took['commit: change into snapshot']:.2f} s")


if __name__ == "__main__":
    main()
