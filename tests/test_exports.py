"""CSV and OSCAL exports, the latter validated with NIST's OSCAL models (compliance-trestle)."""

import csv
import io
import json

import pytest
from sqlmodel import select
from trestle.oscal.assessment_results import AssessmentResults

from audit.models import Evidence, Finding
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services import exports
from audit.services.assessments import AnswerInput
from tests import factories
from tests.test_web_assessments import world  # noqa: F401 - fixture


@pytest.fixture
def approved(session, loaded_checklists):
    people = factories.team(session)
    assessment = factories.assessment(session, people)
    checklist = svc.definition(session, assessment)
    overrides = {
        "SO-3.1": ("non_compliant", '=HYPERLINK("http://evil") no contract'),
        "SO-2.1": ("partial", "Only for new vendors"),
    }
    inputs = [
        AnswerInput(i.ref, *overrides.get(i.ref, ("compliant", ""))) for i in checklist.items()
    ]
    inputs[-1] = AnswerInput(inputs[-1].ref, None)  # one left unanswered
    svc.save_answers(session, people.auditor, assessment, inputs, None)
    evidence_svc.add(
        session,
        people.auditor,
        assessment,
        filename="contract.pdf",
        content_type="application/pdf",
        data=b"%PDF-1.4",
        max_bytes=1000,
        item_ref="SO-3.1",
    )
    session.commit()
    return assessment, checklist


def test_answers_csv_has_every_item_and_neutralises_formulas(session, approved):
    assessment, checklist = approved
    rows = list(csv.DictReader(io.StringIO(exports.answers_csv(session, assessment))))
    assert [r["ref"] for r in rows] == [i.ref for i in checklist.items()]
    by_ref = {r["ref"]: r for r in rows}
    assert by_ref["SO-2.1"]["answer"] == "partial"
    assert by_ref["SO-2.1"]["comment"] == "Only for new vendors"
    assert by_ref["SO-3.1"]["comment"].startswith("'=HYPERLINK")
    assert "contract.pdf (sha256 " in by_ref["SO-3.1"]["evidence"]
    assert rows[-1]["answer"] == ""
    assert by_ref["SO-3.1"]["critical"] == "yes"


def test_oscal_export_validates_against_the_oscal_model(session, approved):
    assessment, checklist = approved
    document = exports.oscal_assessment_results(session, assessment)
    model = AssessmentResults.model_validate(document["assessment-results"])
    result = model.results[0]
    control_ids = [
        c.control_id for c in result.reviewed_controls.control_selections[0].include_controls
    ]
    assert control_ids == [i.ref for i in checklist.items()]
    assert len(result.observations) == checklist.item_count - 1
    targets = {f.target.target_id: f.target.status.state.value for f in result.findings}
    assert targets == {"SO-3.1": "not-satisfied", "SO-2.1": "not-satisfied"}
    props = {p.name: p.value for p in result.props}
    assert props["checklist"] == "subcontractor-oversight" and props["rating"] == "D"
    resources = {r.title for r in model.back_matter.resources}
    assert "contract.pdf" in resources
    assert model.import_ap.href.startswith("#")
    # it survives a JSON round trip unchanged, and exporting twice gives the same document
    assert json.loads(json.dumps(document)) == exports.oscal_assessment_results(session, assessment)


def test_oscal_findings_link_to_their_observations(session, approved):
    assessment, _ = approved
    doc = exports.oscal_assessment_results(session, assessment)["assessment-results"]
    observations = {o["uuid"] for o in doc["results"][0]["observations"]}
    for finding in doc["results"][0]["findings"]:
        assert finding["related-observations"][0]["observation-uuid"] in observations
    severities = {
        f["target"]["target-id"]: {p["name"]: p["value"] for p in f["props"]}
        for f in doc["results"][0]["findings"]
    }
    assert severities["SO-3.1"]["severity"] == "critical"
    assert session.exec(select(Finding)).all()
    assert session.exec(select(Evidence)).all()


def test_the_oscal_model_refuses_a_broken_document(session, approved):
    import pydantic

    assessment, _ = approved
    doc = exports.oscal_assessment_results(session, assessment)["assessment-results"]
    del doc["results"][0]["reviewed-controls"]
    with pytest.raises(pydantic.ValidationError):
        AssessmentResults.model_validate(doc)


def test_export_downloads_from_the_assessment_page(client, app, world):  # noqa: F811
    from tests.test_web_assessments import sign_in

    sign_in(client, "viewer")
    aid = world["assessment_id"]
    response = client.get(f"/assessments/{aid}/answers.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.get_data(as_text=True).splitlines()[0].startswith("section,ref,question")
    oscal = client.get(f"/assessments/{aid}/oscal.json")
    assert oscal.status_code == 200
    AssessmentResults.model_validate(oscal.get_json()["assessment-results"])
    assert client.get("/assessments/999/answers.csv").status_code == 404
