"""Property-based tests of the JSON API from its own OpenAPI document (schemathesis).

Schemathesis reads `/openapi.json`, generates requests for every `/api` operation (valid
ones and, in its negative mode, invalid ones) and sends them to the real app over ASGI,
once with an auditor's token and once with an agency's. Every default check must hold:
no 5xx, only documented status codes and content types, bodies that match the
documented schemas, invalid input refused. Bounded: a few examples per operation, no
example database, so the whole file stays well under a minute.

The app is built when this module is imported (schemathesis collects one test per
operation from its document); it opens the bus lazily, on the first request, from a copy
of the seeded deployment that the autouse fixture hands it (the access-request calls
write: requests and decisions are ledger entries, and the shared deployment keeps its
numbers). (`schemathesis.pytest.from_fixture`
would avoid that, but it does not run under pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from exchange import Bus
from exchange.portal import create_app
from tests.portal.conftest import TOKEN_SPEC, Seeded, bearer

_DEPLOYMENT: list[Seeded] = []


def _open_bus() -> Bus:
    assert _DEPLOYMENT, "the seeded deployment is handed over by the `deployment` fixture"
    return _DEPLOYMENT[0].open()


APP = create_app(_open_bus, tokens=TOKEN_SPEC)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(path_regex="^/api/")
EXAMPLES = settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def deployment(seeded_sqlite: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    copy = seeded_sqlite.copy(Path(tmp_path_factory.mktemp("fuzz")) / "home")
    _DEPLOYMENT[:] = [copy]
    yield copy
    APP.state.portal.close()
    _DEPLOYMENT.clear()


def call_and_validate(case: schemathesis.Case, who: str) -> None:
    """Every default check, except for three kinds of rules no schema can state: an audit report
    whose `to` is before its `from` is refused (400), though each day alone is valid; an
    access request the catalog's rules refuse (422 with `refused`: an unknown dataset, a field
    its statute does not allow, ...), though its body has the documented shape; and a subject
    search for an id no dataset's contract accepts (400 "not a valid id")."""
    headers = bearer(who)
    response = case.call(headers=headers)
    query = case.query or {}
    reversed_period = (
        case.operation.path == "/api/audit/report"
        and response.status_code == 400
        and {"from", "to"} <= set(query)
        and str(query["to"]) < str(query["from"])
    )
    refused_request = (
        case.operation.path == "/api/requests"
        and case.method.upper() == "POST"
        and response.status_code == 422
        and "refused" in response.json()
        and response.json()["refused"]
    )
    # A national id no dataset's contract accepts (its pattern, its length) is refused (400):
    # the format lives in the contracts, not in the API document.
    invalid_id = case.operation.path in ("/api/subjects/search",) and response.status_code == 400
    excluded = [positive_data_acceptance] if reversed_period or refused_request or invalid_id else []
    case.validate_response(response, excluded_checks=excluded, headers=headers)


@schema.parametrize()
@EXAMPLES
def test_the_api_keeps_to_its_document_for_an_auditor(case: schemathesis.Case) -> None:
    call_and_validate(case, "auditor")


@schema.parametrize()
@EXAMPLES
def test_the_api_keeps_to_its_document_for_an_agency(case: schemathesis.Case) -> None:
    call_and_validate(case, "tax")
