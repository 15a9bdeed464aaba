"""Schemathesis over /api/v1/openapi.json, in process (WSGI), with an admin's admin-scope token.

Every operation of the OpenAPI document gets generated requests, valid and invalid, against a
populated database (the three checklists, a subcontractor, an assessment with answers and so
findings, an evidence file). Each response must be no 5xx, have a documented status code, the
documented content type, and match its documented schema. Runs on SQLite and on PostgreSQL
(TEST_DATABASE_URL) like the rest of the suite; bounded (few examples per operation, derandomized)
so it takes well under two minutes on two cores.
"""

from __future__ import annotations

import io

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audit import create_app
from audit.extensions import db
from audit.services import tokens
from tests import factories
from tests.api.conftest import ApiClient, all_items

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Operations left out, each with its reason. Keep this empty unless an operation cannot be
# fuzzed here at all; a slow one gets fewer examples instead (SLOW below).
EXCLUDED: dict[str, str] = {}

# The PDF report renders with WeasyPrint (about a second a page set): few examples.
SLOW = {"GET /api/v1/assessments/{assessment_id}/report.pdf"}

CONFIG = schemathesis.Config.from_dict(
    {
        # a fixed seed: the same requests on every run, so a failure reproduces
        "seed": 20261126,
        "phases": {
            "examples": {"enabled": True},
            "fuzzing": {"enabled": True},
            # boundary/negative cases per parameter: good for 422s, bounded by the schema
            "coverage": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)


@pytest.fixture
def populated(app, loaded_checklists):
    """Loaded checklists, a team, a subcontractor and an open assessment (as the API tests'
    ``world``), an admin-scope token of the admin, answers (and so findings), one evidence file.
    """
    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        aid = assessment.id
        _, secret = tokens.create(db.session, people.admin, name="schemathesis", scope="admin")
        db.session.commit()
    api = ApiClient(app.test_client(), secret)
    refs = all_items(app)
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
    findings = api.get("/api/v1/findings").get_json()
    assert findings, "the answers should have raised findings"
    return {"secret": secret, "assessment_id": aid}


def _document_app():
    """An app used only to serve the OpenAPI document at collection (it touches no database).

    The requests themselves go to each test's own ``app`` fixture, on its own database.
    """
    return create_app(
        {"TESTING": True, "SECRET_KEY": "schema-only", "DATABASE_URL": "sqlite://"}
    )


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app(), config=CONFIG)


@schema.parametrize()
@hypothesis.settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case, app, populated):
    label = f"{case.method.upper()} {case.operation.path}"
    if label in EXCLUDED:
        pytest.skip(EXCLUDED[label])
    case.call_and_validate(
        headers={"Authorization": f"Bearer {populated['secret']}"}, checks=CHECKS, app=app
    )
