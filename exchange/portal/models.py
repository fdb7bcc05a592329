"""The shapes the portal returns: the JSON API's models, which the HTML pages render too.

They hold counts, ids, names, hashes and times — never a record's value: quarantined
rows are counted by reason, and a subject search returns deliveries, not data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Me(BaseModel):
    role: str
    agency: str | None = None


class SchemaVersion(BaseModel):
    label: str = Field(description="`v1`, `v2`, ... as the schema file is named")
    fingerprint_sha256: str = Field(description="SHA-256 of the Avro parsing canonical form")
    current: bool


class Subscriber(BaseModel):
    subscription: str
    agency: str
    purpose: str
    basis: str = Field(description="`statute:ID` or `consent`")
    fields: list[str]
    schedule: str | None = None
    batches: int = 0
    rows_delivered: int = 0
    rows_denied: int = 0
    last_delivered_at: datetime | None = None


class Freshness(BaseModel):
    status: Literal["fresh", "stale", "never", "no-sla"] = Field(
        description="last committed stage vs the contract's `sla.freshness`"
    )
    last_committed_at: datetime | None = None
    sla: str | None = Field(default=None, description="the contract's ISO 8601 duration, e.g. P2D")
    age_seconds: float | None = None


class DatasetSummary(BaseModel):
    id: str
    owner: str
    owner_name: str
    description: str
    contract_version: str
    schema_versions: list[SchemaVersion]
    subscribers: list[Subscriber]
    freshness: Freshness


class FieldInfo(BaseModel):
    name: str
    classification: str
    tags: list[str]


class Run(BaseModel):
    run_id: int
    dataset: str
    step: str
    subscription: str | None = None
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    rows_read: int | None = None
    rows_staged: int | None = None
    rows_quarantined: int | None = None
    rows_delivered: int | None = None
    rows_denied: int | None = None
    batches: int | None = None
    error: str | None = Field(default=None, description="the GovBus error (no data values) or its class")


class DatasetDetail(DatasetSummary):
    purpose: str
    compatibility: str
    key_fields: list[str]
    fields: list[FieldInfo]
    expectations: int
    stages_committed: int
    stages_waiting: int
    rows_staged: int
    rows_quarantined: int
    recent_runs: list[Run]


class ReasonCount(BaseModel):
    reason: str = Field(description="field and rule, never the value")
    rows: int


class QuarantineSummary(BaseModel):
    dataset: str
    rows: int
    open_rows: int
    reasons: list[ReasonCount] = Field(description="a row with several reasons counts under each")


class KindCount(BaseModel):
    kind: str
    entries: int


class LedgerProblem(BaseModel):
    seq: int
    problem: str


class LatestCheckpoint(BaseModel):
    number: int
    tree_size: int
    root: str
    at: datetime
    key_id: str


class LedgerStatus(BaseModel):
    entries: int
    intact: bool = Field(description="the whole chain, order and every signature verified")
    head_seq: int | None = None
    head_hash: str | None = None
    head_at: datetime | None = None
    problems: list[LedgerProblem]
    checkpoints: int = 0
    latest_checkpoint: LatestCheckpoint | None = None
    checkpoint_problems: list[LedgerProblem] = Field(
        default_factory=list, description="`seq` is the checkpoint's number"
    )
    kinds: list[KindCount]


class SubjectSearch(BaseModel):
    national_id: str = Field(
        min_length=1,
        max_length=64,
        # The shape `subjects.audit_ref` accepts (surrounding blanks are dropped there);
        # spelled so that Python's `re` and pydantic's Rust regex agree on it.
        pattern=r"^[ \t\n]*[0-9A-Za-z][0-9A-Za-z./-]{0,63}[ \t\n]*$",
        description="typed by the auditor: letters, digits and . / - ; neither logged nor returned",
    )


class SubjectDelivery(BaseModel):
    ledger_seq: int
    at: datetime
    dataset: str
    recipient: str
    purpose: str
    basis: str
    fields: list[str]
    batch_id: str


class SubjectReport(BaseModel):
    index_available: bool
    notice: str | None = None
    deliveries: list[SubjectDelivery]
