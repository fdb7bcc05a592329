"""The shapes the portal returns: the JSON API's models, which the HTML pages render too.

They hold counts, ids, names, hashes and times — never a record's value: quarantined
rows are counted by reason, and a subject search returns deliveries, not data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


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
    origin: Literal["catalog", "request"] = Field(
        default="catalog", description="declared in a catalog file, or an approved access request"
    )
    state: str = Field(
        default="new",
        description="new (not delivered yet), active, `active, initial load due`, suspended, ended",
    )


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
    stage_id: str | None = Field(
        default=None, description="the stage a stage or replay step wrote (its validation report's run id)"
    )


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


# -- access requests and decisions (exchange.portal.access_requests) -------------------------

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


def _day_text(value: Any) -> Any:
    """A day only as `YYYY-MM-DD` text: pydantic's `date` alone would also read `0` as 1970-01-01."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("a day is written YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_day_text)]


class SinkSettings(BaseModel):
    """Where to deliver: `connector` and its settings, as in a catalog subscription's `sink:`.

    `parquet` (and `csv`, `jsonl`, `avro`) take `directory`; `sql` takes `url` and `table`.
    A value may name `${ENV_VARS}` (`${GOVBUS_HOME}` always exists); never put a password here.
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Annotated[str, Field(max_length=2048)]] = Field(init=False)

    connector: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")


class RequestBody(BaseModel):
    """`POST /api/requests`: what an agency asks for (`exchange.subscriptions.requests.RequestSpec`).

    The recipient is the calling agency; `requested_by` is the caller, never sent.
    """

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128)
    purpose: str = Field(min_length=1, max_length=128, description="a code of purposes.yaml")
    fields: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=200, description="field names of the dataset"
    )
    sink: SinkSettings
    statute: str | None = Field(
        default=None, max_length=128, description="the statute allowing it; null: each subject's consent"
    )
    agency: str | None = Field(
        default=None, max_length=128, description="the recipient; if given, the calling agency"
    )
    id: str | None = Field(
        default=None, max_length=128, pattern=_ID, description="the subscription's id; default AGENCY.DATASET"
    )
    schedule: str | None = Field(
        default=None, max_length=128, description="@daily, @weekly, a cron, or after:DATASET"
    )
    ends_on: Day | None = Field(default=None, description="last day of deliveries, YYYY-MM-DD")
    pseudonymize_subject: bool = Field(default=False, description="receive a pseudonym, not the subject id")
    note: str = Field(default="", max_length=2000, description="why the agency needs it, for the approvers")


class DecisionBody(BaseModel):
    """`POST /api/requests/{id}/decisions`: approve or reject, and why (signed into the ledger)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S", description="why; not blank")


class Decision(BaseModel):
    """One signed decision on a request, as stored with it and in the ledger."""

    decision: str
    role: str = Field(description="owner or data-protection")
    agency: str | None = Field(default=None, description="the deciding agency (owner role)")
    by: str
    reason: str
    at: datetime
    ledger_seq: int | None = None
    key_id: str | None = Field(default=None, description="the bus key that signed it")


class AccessRequest(BaseModel):
    """An access request with its decisions, what it still waits for, and what the caller may do."""

    id: str = Field(description="the subscription id it becomes")
    agency: str = Field(description="the recipient, who asked")
    dataset: str
    owner: str | None = Field(default=None, description="the dataset's owner, who decides")
    purpose: str
    basis: str = Field(description="`statute:ID` or `consent`")
    fields: list[str]
    pseudonymize_subject: bool
    sink: dict[str, Any] = Field(description="the sink's settings (a URL's password hidden)")
    schedule: str | None = None
    ends_on: date | None = None
    note: str
    requested_by: str
    requested_at: datetime
    status: Literal["requested", "approved", "rejected"]
    request_sha256: str = Field(description="SHA-256 of the request document every decision signs")
    ledger_seq: int | None = None
    needs: list[str] = Field(description="the roles that must approve: owner, and data-protection if needed")
    awaiting: list[str] = Field(description="the roles yet to decide while it is requested")
    decisions: list[Decision]
    you_decide_as: str | None = Field(default=None, description="the role in which the caller may decide now")
    subscription_state: str | None = Field(default=None, description="once approved: the subscription's")


class Refusal(BaseModel):
    """One reason a request is refused: the key to change (`field`) and what to change."""

    field: str | None = None
    message: str


class ValidationIssue(BaseModel):
    """One value against the documented schema: where, and what is wrong (never the value)."""

    loc: list[str | int]
    msg: str
    type: str


class Unprocessable(BaseModel):
    """422: a body against the schema (`detail` lists where), or a request the catalog's rules refuse
    (`refused` lists every reason, each naming the key to change)."""

    detail: str | list[ValidationIssue]
    refused: list[Refusal] | None = None


class SubscriptionListing(BaseModel):
    """`GET /api/subscriptions`: one subscription (from a catalog file or an approved request)."""

    id: str
    agency: str
    dataset: str
    purpose: str
    basis: str
    origin: str = Field(description="catalog or request")
    state: str = Field(description="new, active, `active, initial load due`, suspended, ended, ...")
    since: datetime | None = Field(default=None, description="when it became active (or was asked for)")
