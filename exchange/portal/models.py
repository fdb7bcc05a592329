"""The shapes the portal returns: the JSON API's models, which the HTML pages render too.

They hold counts, ids, names, hashes and times — never a record's value: quarantined
rows are counted by reason, and a subject search returns deliveries, not data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Me(BaseModel):
    """`GET /api/me`: the caller's role and, for the agency role, its agency."""

    role: str
    agency: str | None = None


class SchemaVersion(BaseModel):
    """One version of a dataset's schema; `current` is the one the catalog uses now."""

    label: str = Field(description="`v1`, `v2`, ... as the schema file is named")
    fingerprint_sha256: str = Field(description="SHA-256 of the Avro parsing canonical form")
    current: bool


class Subscriber(BaseModel):
    """A subscription to a dataset, with its delivery totals from the state database."""

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
    """Whether the dataset's last committed stage is within its contract's freshness SLA."""

    status: Literal["fresh", "stale", "never", "no-sla"] = Field(
        description="last committed stage vs the contract's `sla.freshness`"
    )
    last_committed_at: datetime | None = None
    sla: str | None = Field(default=None, description="the contract's ISO 8601 duration, e.g. P2D")
    age_seconds: float | None = None


class DatasetSummary(BaseModel):
    """`GET /api/datasets`: one dataset, with the subscribers the caller may see and its freshness."""

    id: str
    owner: str
    owner_name: str
    description: str
    contract_version: str
    schema_versions: list[SchemaVersion]
    subscribers: list[Subscriber]
    freshness: Freshness


class FieldInfo(BaseModel):
    """A contract field: name, classification and tags (never a value)."""

    name: str
    classification: str
    tags: list[str]


class Run(BaseModel):
    """`GET /api/runs`: one recorded step, with the counts it recorded (null where it recorded none)."""

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
    """`GET /api/datasets/{id}`: the summary, the contract's fields, stage counts and the latest runs."""

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
    """How many quarantined rows failed one rule."""

    reason: str = Field(description="field and rule, never the value")
    rows: int


class QuarantineSummary(BaseModel):
    """`GET /api/quarantine`: a dataset's quarantined rows by reason (discarded rows are not counted)."""

    dataset: str
    rows: int
    open_rows: int
    reasons: list[ReasonCount] = Field(description="a row with several reasons counts under each")


class KindCount(BaseModel):
    """How many ledger entries are of one kind."""

    kind: str
    entries: int


class LedgerProblem(BaseModel):
    """A verification problem and the entry it concerns (`seq` 0: the ledger could not be read at all)."""

    seq: int
    problem: str


class LatestCheckpoint(BaseModel):
    """The latest signed checkpoint: tree size, Merkle root, time and signing key."""

    number: int
    tree_size: int
    root: str
    at: datetime
    key_id: str


class LedgerStatus(BaseModel):
    """`GET /api/ledger`: the ledger as verified by this request: head, problems, checkpoints, kinds."""

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
    """The body of `POST /api/subjects/search`: the id travels here, never in a URL."""

    national_id: str = Field(
        min_length=1,
        max_length=64,
        # The shape `subjects.audit_ref` accepts (surrounding blanks are dropped there);
        # spelled so that Python's `re` and pydantic's Rust regex agree on it.
        pattern=r"^[ \t\n]*[0-9A-Za-z][0-9A-Za-z./-]{0,63}[ \t\n]*$",
        description="typed by the auditor: letters, digits and . / - ; neither logged nor returned",
    )


class SubjectDelivery(BaseModel):
    """One delivery of the person's data, as its ledger entry records it."""

    ledger_seq: int
    at: datetime
    dataset: str
    recipient: str
    purpose: str
    basis: str
    fields: list[str]
    batch_id: str


class SubjectReport(BaseModel):
    """`POST /api/subjects/search`: the person's deliveries, oldest first (the id is not returned).

    `index_available` false (with a notice): no access index yet, which does not mean nobody
    received this person's data.
    """

    index_available: bool
    notice: str | None = None
    deliveries: list[SubjectDelivery]
