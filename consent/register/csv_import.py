"""Import consents (and changes to them) from a CSV file, line by line.

The file has a header row. Columns (any order; unknown columns are refused):

* `action`: grant (default), pause, resume or revoke;
* grant: `subject_id`, `recipient`, `dataset`, `purpose`, `fields` (separated by `;`,
  `|` or spaces), optional `valid_from`, `valid_until` (a bare date means the whole day),
  `data_life`, `frequency`, `collection_method`, `evidence`, `consent_id` (keeps the id
  the consent was collected under; a line whose id is already recorded is *unchanged*,
  so re-importing a file is safe), `given_at` (when the citizen gave it, if not the start
  of its validity: the grant time receipts show, apart from the recording time);
* pause / resume / revoke: `consent_id`, optional `at` (when it takes effect).

Every line is reported: what it did, or why it was rejected (with its line number); the
rest of the file is imported. A rejection names the column, never the value: the file
holds subject ids. All lines go in the caller's transaction (one commit for the file).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from consent.register.register import ConsentRegister
from consent.register.terms import consent_id_checked
from govbus.errors import BadInput, GovBusError
from govbus.instants import parse_instant

GRANT_COLUMNS = {
    "subject_id",
    "recipient",
    "dataset",
    "purpose",
    "fields",
    "valid_from",
    "valid_until",
    "data_life",
    "frequency",
    "collection_method",
    "evidence",
    "consent_id",
    "given_at",
}
COLUMNS = GRANT_COLUMNS | {"action", "at"}
ACTIONS = ("grant", "pause", "resume", "revoke")
_FIELD_SPLIT = re.compile(r"[;|\s]+")

# Called with (recipient, dataset, purpose, fields) before a grant; raises BadInput if
# the catalog does not know them (the exchange passes one built from its catalog).
ScopeCheck = Callable[[str, str, str, Sequence[str]], None]


@dataclass(frozen=True)
class ImportLine:
    """What one line did: outcome is granted, paused, resumed, revoked, unchanged or rejected."""

    line: int
    action: str
    outcome: str
    consent_id: str | None = None
    reason: str | None = None


@dataclass
class ImportReport:
    """Every line's outcome, in file order."""

    path: str
    lines: list[ImportLine] = field(default_factory=list)

    @property
    def rejected(self) -> list[ImportLine]:
        """The lines refused, each with its reason."""
        return [line for line in self.lines if line.outcome == "rejected"]

    def counts(self) -> dict[str, int]:
        """How many lines had each outcome."""
        out: dict[str, int] = {}
        for line in self.lines:
            out[line.outcome] = out.get(line.outcome, 0) + 1
        return out


def _text(row: dict[str, str | None], name: str) -> str:
    return (row.get(name) or "").strip()


def _grant(
    register: ConsentRegister, conn: sa.Connection, row: dict[str, str | None], scope_check: ScopeCheck | None
) -> tuple[str, str]:
    for name in ("subject_id", "recipient", "dataset", "purpose", "fields"):
        if not _text(row, name):
            raise BadInput("is empty", where=name, hint="every grant needs this column")
    fields = [name for name in _FIELD_SPLIT.split(_text(row, "fields")) if name]
    recipient, dataset, purpose = (_text(row, n) for n in ("recipient", "dataset", "purpose"))
    chosen = _text(row, "consent_id") or None
    if chosen is not None:
        existing = register.get(conn, chosen)
        if existing is not None:
            if existing.subject_ref != register.subject_ref(_text(row, "subject_id")):
                raise BadInput(
                    "names a consent of another subject",
                    where="consent_id",
                    hint="each consent needs its own id",
                )
            return "unchanged", existing.consent_id
    if scope_check is not None:
        scope_check(recipient, dataset, purpose, fields)
    valid_from = _text(row, "valid_from")
    valid_until = _text(row, "valid_until")
    consent_id = register.grant(
        conn,
        _text(row, "subject_id"),
        recipient,
        dataset,
        purpose,
        fields,
        valid_from=parse_instant(valid_from, where="valid_from") if valid_from else None,
        valid_until=(
            parse_instant(valid_until, where="valid_until", end_of_day=True) if valid_until else None
        ),
        evidence=_text(row, "evidence"),
        data_life=_text(row, "data_life") or None,
        frequency=_text(row, "frequency") or None,
        collection_method=_text(row, "collection_method"),
        consent_id=chosen,
        given_at=parse_instant(given, where="given_at") if (given := _text(row, "given_at")) else None,
        expressed_by="operator",  # an import records what the citizen expressed elsewhere
    )
    return "granted", consent_id


def _change(
    register: ConsentRegister, conn: sa.Connection, action: str, row: dict[str, str | None]
) -> tuple[str, str]:
    used = sorted(name for name in GRANT_COLUMNS - {"consent_id"} if _text(row, name))
    if used:
        raise BadInput(
            f"a {action} line takes only consent_id and at",
            where=used[0],
            hint="leave the grant columns empty on this line",
        )
    consent_id = consent_id_checked(_text(row, "consent_id"))
    at_text = _text(row, "at")
    at = parse_instant(at_text, where="at") if at_text else None
    method = {"pause": register.pause, "resume": register.resume, "revoke": register.revoke}
    done = method[action](conn, consent_id, at)
    outcome = {"pause": "paused", "resume": "resumed", "revoke": "revoked"}[action]
    return (outcome if done else "unchanged"), consent_id


def import_consents(
    register: ConsentRegister, conn: sa.Connection, path: Path, *, scope_check: ScopeCheck | None = None
) -> ImportReport:
    """Apply every line of the CSV at `path`; bad lines are reported, the rest imported.

    A file that cannot be read at all (missing, not UTF-8, no header, unknown columns)
    is a BadInput for the whole file and nothing is imported.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput("file not found", where=str(path)) from None
    except (UnicodeDecodeError, OSError):
        raise BadInput(
            "cannot be read as UTF-8 text", where=str(path), hint="save the file as UTF-8 CSV"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise BadInput(
            "has no header row",
            where=str(path),
            hint="start with a header such as subject_id,recipient,dataset,...",
        )
    unknown = sorted(set(header) - COLUMNS)
    if unknown or len(set(header)) != len(header):
        raise BadInput(
            f"column {unknown[0] if unknown else 'name'} is unknown or repeated",
            where=f"{path}:1",
            hint="known columns: " + ", ".join(sorted(COLUMNS)),
        )
    reader.fieldnames = header
    report = ImportReport(str(path))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            report.lines.append(
                ImportLine(reader.line_num, "?", "rejected", reason="malformed CSV (quotes or separators)")
            )
            continue
        line = reader.line_num
        if None in row:  # more cells than header columns
            report.lines.append(
                ImportLine(line, "?", "rejected", reason="more cells than the header has columns")
            )
            continue
        action = _text(row, "action").lower() or "grant"
        try:
            if action not in ACTIONS:
                raise BadInput("is not grant, pause, resume or revoke", where="action")
            if action == "grant":
                outcome, consent_id = _grant(register, conn, row, scope_check)
            else:
                outcome, consent_id = _change(register, conn, action, row)
        except BadInput as exc:
            report.lines.append(ImportLine(line, action, "rejected", reason=str(exc)))
            continue
        except GovBusError:
            raise  # transient or configuration trouble: the whole import rolls back
        report.lines.append(ImportLine(line, action, outcome, consent_id))
    return report
