"""Operating the bus: metrics, health, alerts, freshness verdicts and lineage transport.

What a caller must know:

* `exposition` / `metrics_registry` build Prometheus metrics from the state database
  and the ledger at each scrape (nothing is counted in memory, so every worker's work
  shows, whichever process did it); labels are catalog ids, never data values;
* `readiness` checks the state database, its migrations and the keys without creating
  anything; liveness is the process answering at all;
* `send_alerts` sends `Alert`s to the receivers `AlertSettings.from_env` names (a
  webhook, SMTP) and never raises; the rules (`failed_alert`, `sla_alert`,
  `quarantine_alert`, `checkpoint_alert`) say when;
* `judge_freshness` is the one freshness verdict (the DAG's task, `govbus run`, the
  metrics);
* `LineageSender` sends OpenLineage events through the transport the settings name.

This room sits below the steps (`run/` alerts and sends lineage through it) and imports
only `catalog/` and `state/` of exchange, and the parts.
"""

from __future__ import annotations

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
    "Readiness",
    "StateCollector",
    "checkpoint_alert",
    "exposition",
    "failed_alert",
    "judge_freshness",
    "metrics_registry",
    "newest_cursor_value",
    "quarantine_alert",
    "quarantine_threshold",
    "readiness",
    "send_alerts",
    "sla_alert",
]
