"""Operating the bus: metrics, health, alerts, freshness verdicts and lineage transport.

What a caller must know:

* `exposition` / `metrics_registry` build Prometheus metrics from the state database
  and the ledger at each scrape (every worker's work shows, whichever process did it; a
  kept collector only sums the runs ended since its last scrape); labels are catalog ids,
  never data values;
* `readiness` checks the state database, its migrations and the keys without creating
  anything; liveness is the process answering at all;
* `send_alerts` sends `Alert`s to the receivers `AlertSettings.from_env` names (a
  webhook, SMTP) and never raises; the rules (`failed_alert`, `sla_alert`,
  `quarantine_alert`, `checkpoint_alert`) say when; `notify` sends them through the
  alert memory (`alert_memory`): once per condition, again after the repeat interval,
  and once when it resolves (`judged_kinds` says which conditions a caller judged);
* `judge_freshness` is the one freshness verdict (the DAG's task, `govbus run`, the
  metrics);
* `LineageSender` sends OpenLineage events through the transport the settings name;
* `tune_process_memory`, `release_free_memory` and `load_pandas_on_demand` set up a bus
  process (`Bus.open` calls them): its allocators, trimming, and pandas loaded only when
  asked for.

This room sits below the steps (`run/` alerts and sends lineage through it) and imports
only `catalog/` and `state/` of exchange, and the parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govbus.lazy_faces import lazy_face

if TYPE_CHECKING:
    from exchange.ops.alert_memory import judged_kinds, notify
    from exchange.ops.alerts import (
        CHECKPOINT_LATE,
        QUARANTINE_RATE,
        RUN_FAILED,
        SLA_BREACH,
        Alert,
        AlertSettings,
        checkpoint_alert,
        failed_alert,
        quarantine_alert,
        quarantine_threshold,
        send_alerts,
        sla_alert,
    )
    from exchange.ops.freshness import Freshness, judge_freshness, newest_cursor_value
    from exchange.ops.health import Check, Readiness, readiness
    from exchange.ops.lineage_transport import LineageSender, LineageSettings
    from exchange.ops.metrics import CONTENT_TYPE, StateCollector, exposition, metrics_registry
    from exchange.ops.pandas_on_demand import load_pandas_on_demand
    from exchange.ops.process_memory import MemoryTuning, release_free_memory, tune_process_memory

# Where each public name lives: imported on first use (PEP 562), so importing this package
# (or one of its modules) does not load every dependency of every other module: `govbus
# --help`, `govbus status` and the DAG file load only what they use. A new public name goes
# here, under TYPE_CHECKING above and in `__all__` (tests/architecture/test_lazy_faces.py).
_LAZY: dict[str, tuple[str, str]] = {
    "judged_kinds": ("exchange.ops.alert_memory", "judged_kinds"),
    "notify": ("exchange.ops.alert_memory", "notify"),
    "CHECKPOINT_LATE": ("exchange.ops.alerts", "CHECKPOINT_LATE"),
    "QUARANTINE_RATE": ("exchange.ops.alerts", "QUARANTINE_RATE"),
    "RUN_FAILED": ("exchange.ops.alerts", "RUN_FAILED"),
    "SLA_BREACH": ("exchange.ops.alerts", "SLA_BREACH"),
    "Alert": ("exchange.ops.alerts", "Alert"),
    "AlertSettings": ("exchange.ops.alerts", "AlertSettings"),
    "checkpoint_alert": ("exchange.ops.alerts", "checkpoint_alert"),
    "failed_alert": ("exchange.ops.alerts", "failed_alert"),
    "quarantine_alert": ("exchange.ops.alerts", "quarantine_alert"),
    "quarantine_threshold": ("exchange.ops.alerts", "quarantine_threshold"),
    "send_alerts": ("exchange.ops.alerts", "send_alerts"),
    "sla_alert": ("exchange.ops.alerts", "sla_alert"),
    "Freshness": ("exchange.ops.freshness", "Freshness"),
    "judge_freshness": ("exchange.ops.freshness", "judge_freshness"),
    "newest_cursor_value": ("exchange.ops.freshness", "newest_cursor_value"),
    "Check": ("exchange.ops.health", "Check"),
    "Readiness": ("exchange.ops.health", "Readiness"),
    "readiness": ("exchange.ops.health", "readiness"),
    "LineageSender": ("exchange.ops.lineage_transport", "LineageSender"),
    "LineageSettings": ("exchange.ops.lineage_transport", "LineageSettings"),
    "CONTENT_TYPE": ("exchange.ops.metrics", "CONTENT_TYPE"),
    "StateCollector": ("exchange.ops.metrics", "StateCollector"),
    "exposition": ("exchange.ops.metrics", "exposition"),
    "metrics_registry": ("exchange.ops.metrics", "metrics_registry"),
    "MemoryTuning": ("exchange.ops.process_memory", "MemoryTuning"),
    "release_free_memory": ("exchange.ops.process_memory", "release_free_memory"),
    "tune_process_memory": ("exchange.ops.process_memory", "tune_process_memory"),
    "load_pandas_on_demand": ("exchange.ops.pandas_on_demand", "load_pandas_on_demand"),
}


__getattr__, __dir__ = lazy_face(__name__, _LAZY)

__all__ = [
    "CHECKPOINT_LATE",
    "CONTENT_TYPE",
    "QUARANTINE_RATE",
    "RUN_FAILED",
    "SLA_BREACH",
    "Alert",
    "AlertSettings",
    "Check",
    "Freshness",
    "LineageSender",
    "LineageSettings",
    "MemoryTuning",
    "Readiness",
    "StateCollector",
    "checkpoint_alert",
    "exposition",
    "failed_alert",
    "judge_freshness",
    "judged_kinds",
    "load_pandas_on_demand",
    "metrics_registry",
    "newest_cursor_value",
    "notify",
    "quarantine_alert",
    "quarantine_threshold",
    "readiness",
    "release_free_memory",
    "send_alerts",
    "sla_alert",
    "tune_process_memory",
]
