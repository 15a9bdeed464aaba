"""Schemathesis over /api/v1/openapi.json, in process (WSGI), with an admin's admin-scope token.

Every operation of the OpenAPI document gets generated requests, valid and invalid (examples,
coverage and fuzzing phases), against a populated database: the checklists, a team, a
subcontractor, an open assessment with answers (and so findings), an evidence file, a webhook
and one of its deliveries. Every check Schemathesis has runs on every response (what
``--checks all`` runs: server errors, status codes, content types, headers and schemas, valid
data accepted and invalid data refused, missing required headers, unsupported methods, auth
ignored, use after delete...) plus ``status_code_listed``. A second test runs the stateful
phase: chains of calls that follow the document's OpenAPI links.

The only failures let through are those in ``KNOWN_FAILURES``, each with its reason; two
checks are configured, each with its reason, in ``CONFIG``.

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
import json
import re
import uuid
import zlib
from dataclasses import dataclass

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
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


@dataclass(frozen=True)
class Known:
    """A failure this suite accepts: Schemathesis' failure code, the operations it may occur
    on (None: any), a pattern searched in the failure's message and the response body, and why
    it is not a defect (or which change removes it)."""

    code: str
    operations: tuple[str, ...] | None
    pattern: str
    reason: str

    def applies(self, failure: Failure, label: str) -> bool:
        return failure.code == self.code and (self.operations is None or label in self.operations)


def refusals(body: str) -> list[str]:
    """Every problem a JSON error body's ``errors`` names, as ``field: message``, else []."""
    try:
        errors = json.loads(body).get("errors") or {}
    except (ValueError, AttributeError):
        return []
    return [f"{field}: {m}" for field, messages in errors.items() for m in messages]


def let_through(failure: Failure, label: str, body: str) -> bool:
    """Whether ``KNOWN_FAILURES`` accepts this failure.

    A valid request refused (ST202) is accepted only if *every* problem the API named is a
    known one, so a real schema mismatch beside an unknown id is still reported. Any other
    failure is accepted when a known pattern is in its message or the response.
    """
    known = [k for k in KNOWN_FAILURES if k.applies(failure, label)]
    if not known:
        return False
    if failure.code == "ST202":
        named = refusals(body) or [body]
        return all(any(re.search(k.pattern, m) for k in known) for m in named)
    return any(re.search(k.pattern, f"{failure.message}\n{body}") for k in known)


#: Every failure the suite accepts, each with its reason. Nothing else may fail.
KNOWN_FAILURES: tuple[Known, ...] = (
    Known(
        "ST202",
        None,
        r"^\w+: (no subcontractor -?\d+|no checklist version -?\d+|user -?\d+ is not an "
        r"active (auditor|reviewer)|no user -?\d+)$",
        "an id in the body that names no row (or the wrong kind of person) is a 422 naming the "
        "field: which ids exist is data, not schema",
    ),
    Known(
        "ST202",
        None,
        r"^name: a subcontractor named .* already exists$",
        "legal names are unique and which are taken is data; a taken name alone is a 409, "
        "which the check accepts, but beside another problem the request is a 422 naming both",
    ),
    Known(
        "ST202",
        None,
        r"ends before it starts|the reviewer cannot be one of the auditors",
        "rules across fields (an end on or after its start, a reviewer who is not an auditor) "
        "are in the descriptions; OpenAPI 3.0 schemas cannot compare two fields",
    ),
    Known(
        "ST202",
        None,
        r"is not in this checklist version|is not an answer this item allows",
        "item refs and the answers each item allows come from the pinned checklist version, "
        "not from the schema",
    ),
    Known(
        "ST202",
        None,
        r"must not contain NUL characters or invalid Unicode$",
        "a text with a NUL character (PostgreSQL's text cannot hold one) is refused with 422, "
        "as the document's introduction says; JSON Schema has no way to exclude it everywhere",
    ),
    Known(
        "ST202",
        ("POST /api/v1/checklists",),
        r"^file: ",
        "an upload must be a valid checklist definition in YAML, which a binary upload's schema "
        "cannot describe",
    ),
)


def validate(case, response, **kwargs) -> None:
    """Every check on ``response``; the failures ``KNOWN_FAILURES`` lists are let through."""
    try:
        case.validate_response(
            response, checks=ALL_CHECKS, headers=kwargs.get("headers"), transport_kwargs=kwargs
        )
    except FailureGroup as group:
        body = response.text if hasattr(response, "text") else response.get_data(as_text=True)
        label = case.operation.label
        left = [f for f in group.exceptions if not let_through(f, label, body)]
        if left:
            status = getattr(response, "status_code", "?")
            report = "\n".join(f"{f.code} {f.title}: {f.message}" for f in left)
            raise FailureGroup(
                left, f"{report}\n[{status}] {body[:600]}\n{case.as_curl_command()}"
            ) from None


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
        "checks": {
            # 428 Precondition Required (RFC 6585) is the answer to a write without If-Match
            "missing_required_header": {"expected-statuses": [400, 401, 403, 406, 415, 422, 428]},
            # a well-formed If-Match naming a revision that is not the current one is a 412
            # (RFC 9110 13.1.1): no schema can say which ETag is current
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 412, 429, "5xx"]
            },
        },
        "phases": {
            "examples": {"enabled": True},
            # boundary and negative values per parameter, bounded by the schema
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            # the links between operations: create, then read, answer, submit, approve... with
            # valid requests only: the phases above send the invalid ones, and a chain of
            # refusals (a step without its Authorization, say) never reaches the next link
            "stateful": {"enabled": True, "generation": {"mode": "positive"}},
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
    changed = api.patch(
        f"/api/v1/findings/{finding['id']}", json={"owner": "IT"}, etag=f'"{finding["etag"]}"'
    )
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


def _negative_at(case, location) -> bool:
    return case.meta is not None and case.meta.is_negative_at(location)


def _aim_at_existing_rows(case, populated) -> None:
    """Point three cases in four at the populated rows, with the current ETag in If-Match.

    What a negative case made invalid (a path id out of range, a malformed If-Match) is left
    as generated: replacing it would send a valid request and blame the API for accepting it.
    """
    if zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()) % 4 == 0:
        return  # keep the generated ids and ETag: 404, 412 and 428 are checked this way
    if not _negative_at(case, ParameterLocation.PATH):
        for name in case.path_parameters or {}:
            if name in populated["path"]:
                case.path_parameters[name] = populated["path"][name]
    headers = case.headers or {}
    if _negative_at(case, ParameterLocation.HEADER) or headers.get("If-Match") in (None, "*"):
        return
    path = case.path_parameters
    if "assessment_id" in path:
        own = f"/api/v1/assessments/{path['assessment_id']}"
    elif "finding_id" in path:
        own = f"/api/v1/findings/{path['finding_id']}"
    elif "subcontractor_id" in path:
        own = f"/api/v1/subcontractors/{path['subcontractor_id']}"
    elif "hook_id" in path:
        own = f"/api/v1/webhooks/{path['hook_id']}"
    else:
        return
    current = populated["api"].get(own).headers.get("ETag")
    if current:
        headers["If-Match"] = current


def _fresh_idempotency_key(case) -> None:
    """A key of its own for every generated POST that sends one.

    Schemathesis draws keys from a small space, so two different bodies would share one and
    the API would rightly refuse the second (422: a key reused for another request); the
    replay and reuse rules are tested in tests/api/test_idempotency.py. A malformed key (the
    negative header cases) is left as generated: it must be a 400.
    """
    headers = case.headers or {}
    if "Idempotency-Key" in headers and not _negative_at(case, ParameterLocation.HEADER):
        headers["Idempotency-Key"] = str(uuid.uuid4())


def call_kwargs(case, app, secret: str) -> dict:
    """The token on every request, unless the case's headers are the negative part: then they
    go as generated (a missing or malformed Authorization must be refused, 401)."""
    if _negative_at(case, ParameterLocation.HEADER):
        return {"app": app}
    return {"headers": {"Authorization": f"Bearer {secret}"}, "app": app}


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case, app, populated):
    _aim_at_existing_rows(case, populated)
    _fresh_idempotency_key(case)
    kwargs = call_kwargs(case, app, populated["secret"])
    validate(case, case.call(**kwargs), **kwargs)


StateMachine = schema.as_state_machine()
STATEFUL_EXAMPLES = 15
STATEFUL_STEPS = 8


def test_api_workflows_through_its_links(app, populated):
    """The stateful phase: chains of calls that follow the document's links (create an
    assessment, then get it, answer it, submit it...), every response checked as above."""
    secret = populated["secret"]
    seen: list[tuple[str, int]] = []

    class Workflow(StateMachine):
        def after_call(self, response, case):
            seen.append((case.operation.label, response.status_code))

        def get_call_kwargs(self, case):
            _fresh_idempotency_key(case)
            return call_kwargs(case, app, secret)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            validate(case, response, **kwargs)

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
    # the links were followed: something was created, then reached through its link
    created = [label for label, status in seen if status == 201]
    assert created, f"no step created anything: {seen}"
    linked = {
        "GET /api/v1/assessments/{assessment_id}",
        "GET /api/v1/subcontractors/{subcontractor_id}",
    }
    assert linked & {label for label, status in seen if status == 200}, seen
