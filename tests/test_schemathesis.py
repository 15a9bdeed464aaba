"""Schemathesis over /api/v1/openapi.json, in process (WSGI), with an admin's admin-scope token.

Every operation of the OpenAPI document gets generated requests, valid and invalid (examples,
coverage and fuzzing phases), against a populated database: the checklists, a team, a
subcontractor, an open assessment with answers (and so findings), an evidence file, a webhook
and one of its deliveries. Each response must be no 5xx, have a documented status code and the
documented content type, and match its documented schema and headers.

Most generated requests are pointed at the rows that exist (the ids of the populated database,
the assessment's current ETag in If-Match), so they reach the services rather than stopping at a
404 or 412; one in four keeps what Schemathesis generated (unknown ids, stale or missing ETags).

Runs on SQLite and on PostgreSQL (TEST_DATABASE_URL) like the rest of the suite, derandomized
and bounded (``MAX_EXAMPLES`` per operation) so it stays well under two minutes on two cores.
Reproduce one operation with ``-k "GET and findings"`` etc.; the failure report prints a curl
command too.
"""

from __future__ import annotations

import io
import zlib

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from audit import create_app
from audit.extensions import db
from audit.services import tokens
from tests import factories
from tests.api.conftest import ApiClient, all_items

MAX_EXAMPLES = 12  # fuzzed examples per operation; the coverage phase adds its own


def status_code_listed(ctx, response, case):
    """Stricter than ``status_code_conformance``: the code itself must be listed.

    flask-smorest adds a ``default`` error response to every operation, which would make any
    status code "documented"; here each one the API gives must be named (401, 404, 412...).
    """
    if is_unexpected_http_status_case(case):
        return None  # a request-shape probe (e.g. an undocumented method): 405 is the answer
    listed = {str(code) for code in case.operation.responses.status_codes}
    if str(response.status_code) not in listed:
        raise AssertionError(
            f"{case.operation.label} answered {response.status_code}, which its responses do "
            f"not list ({', '.join(sorted(listed))}): {response.text[:300]}"
        )
    return None


load_all_checks()
#: Every check Schemathesis has (what ``--checks all`` runs), and the stricter one above.
ALL_CHECKS = [*CHECKS.get_all(), status_code_listed]

#: The failures this suite accepts, each with its reason: check name -> operation -> why.
#: Nothing else may fail; an entry that no longer fails should be removed.
KNOWN_FAILURES: dict[str, dict[str, str]] = {}


def excluded_for(case) -> list:
    """The checks not run on this operation, because ``KNOWN_FAILURES`` lists them for it."""
    label = case.operation.label
    return [check for check in ALL_CHECKS if label in KNOWN_FAILURES.get(check.__name__, {})]


# The PDF report of a draft is rendered afresh on every request (WeasyPrint, about 1.4 s of CPU),
# so it is kept with few fuzzed examples rather than left out.
REPORT = "/api/v1/assessments/{assessment_id}/report.pdf"
REPORT_EXAMPLES = 2

CONFIG = schemathesis.Config.from_dict(
    {
        # a fixed seed: the same requests on every run, so a failure reproduces
        "seed": 20261126,
        "generation": {"max-examples": MAX_EXAMPLES},
        "operations": [
            {"include-path": REPORT, "generation": {"max-examples": REPORT_EXAMPLES}},
        ],
        "phases": {
            "examples": {"enabled": True},
            # boundary and negative values per parameter, bounded by the schema
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            # the links between operations: create, then read, answer, submit, approve...
            "stateful": {"enabled": True},
        },
    }
)


def _document_app():
    """An app that only serves the OpenAPI document at collection; it touches no database.

    The generated requests go to each test's own ``app`` fixture, on its own database.
    """
    return create_app({"TESTING": True, "SECRET_KEY": "schema-only", "DATABASE_URL": "sqlite://"})


pytestmark = pytest.mark.schemathesis

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app(), config=CONFIG)


@pytest.fixture
def populated(app, loaded_checklists):
    """The rows the generated requests are pointed at, and an admin-scope token of an admin."""
    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        aid, sid = assessment.id, assessment.subcontractor_id
        _, secret = tokens.create(db.session, people.admin, name="schemathesis", scope="admin")
        db.session.commit()
    api = ApiClient(app.test_client(), secret)
    refs = all_items(app)

    hook = api.post(
        "/api/v1/webhooks",
        json={
            # never called: nothing runs the delivery worker in the tests
            "url": "http://127.0.0.1:9/kansa-schemathesis",
            "secret": "s" * 32,
            "events": ["finding.updated", "assessment.submitted"],
        },
    )
    assert hook.status_code == 201, hook.get_data(as_text=True)
    url = f"/api/v1/assessments/{aid}/answers"
    answered = api.patch(
        url,
        json={
            "answers": [
                {"ref": refs[0], "status": "non_compliant", "comment": "no register"},
                {"ref": refs[1], "status": "partial", "comment": "some contracts"},
                {"ref": refs[2], "status": "compliant"},
            ]
        },
        etag=api.get(url).headers["ETag"],
    )
    assert answered.status_code == 200, answered.get_data(as_text=True)
    uploaded = api.post(
        f"/api/v1/assessments/{aid}/evidence?item_ref={refs[0]}",
        data={"file": (io.BytesIO(b"%PDF-1.4 policy"), "policy.pdf")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_data(as_text=True)
    finding = api.get(f"/api/v1/findings?assessment_id={aid}").get_json()[0]
    changed = api.patch(f"/api/v1/findings/{finding['id']}", json={"owner": "IT"})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    deliveries = api.get("/api/v1/webhooks/deliveries").get_json()
    assert deliveries, "the finding change should have queued a webhook delivery"
    return {
        "secret": secret,
        "api": api,
        "path": {
            "assessment_id": aid,
            "subcontractor_id": sid,
            "finding_id": finding["id"],
            "evidence_id": uploaded.get_json()["id"],
            "hook_id": hook.get_json()["id"],
            "delivery_id": deliveries[0]["id"],
            "slug": "subcontractor-oversight",
            "version": "1.0.0",
            "ref": refs[0],
        },
    }


def _aim_at_existing_rows(case, populated) -> None:
    """Point three cases in four at the populated rows, with the current ETag in If-Match."""
    if zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()) % 4 == 0:
        return  # keep the generated ids and ETag: 404, 412 and 428 are checked this way
    for name in case.path_parameters or {}:
        if name in populated["path"]:
            case.path_parameters[name] = populated["path"][name]
    headers = case.headers or {}
    if headers.get("If-Match") not in (None, "*") and "assessment_id" in case.path_parameters:
        aid = case.path_parameters["assessment_id"]
        current = populated["api"].get(f"/api/v1/assessments/{aid}").headers.get("ETag")
        if current:
            headers["If-Match"] = current


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case, app, populated):
    _aim_at_existing_rows(case, populated)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {populated['secret']}"},
        checks=ALL_CHECKS,
        excluded_checks=excluded_for(case),
        app=app,
    )


StateMachine = schema.as_state_machine()
STATEFUL_EXAMPLES = 15
STATEFUL_STEPS = 8


def test_api_workflows_through_its_links(app, populated):
    """The stateful phase: chains of calls that follow the document's links (create an
    assessment, then get it, answer it, submit it...), every response checked as above."""
    secret = populated["secret"]

    class Workflow(StateMachine):
        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {secret}"}, "app": app}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                checks=ALL_CHECKS,
                excluded_checks=excluded_for(case),
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
            )

    schemathesis.generation.stateful.run_state_machine_as_test(
        Workflow,
        settings=hypothesis.settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        ),
    )
