"""CSV and OSCAL exports: assessment results and POA&M, validated with NIST's JSON schema for
OSCAL 1.1.3 and with compliance-trestle's models (tests/oscal.py)."""

import copy
import csv
import hashlib
import io
import json
import re
import uuid
from datetime import date

import pydantic
import pytest
import sqlalchemy as sa
from sqlmodel import select
from trestle.oscal.assessment_results import AssessmentResults

from audit.migrate import upgrade_url
from audit.models import AuditEvent, Evidence, Finding, Installation
from audit.services import NotFound, exports, installation
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services import findings as finding_svc
from audit.services.assessments import AnswerInput
from audit.vocabulary import FindingStatus
from tests import factories
from tests.oscal import schema_errors, valid_assessment_results, valid_poam
from tests.test_web_assessments import world  # noqa: F401 - fixture

LINKS = exports.OscalLinks(
    lambda evidence_id: f"https://kansa.example/api/v1/evidence/{evidence_id}/download",
    "Asia/Tokyo",
)
PDF = b"%PDF-1.4 contract"


#: A UUID written as OSCAL writes one: lower-case hex in 8-4-4-4-12 groups.
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def answer_all(session, people, assessment, gaps, *, leave_last=False):
    """Answer every item compliant but ``gaps`` ({ref: (status, comment)})."""
    checklist = svc.definition(session, assessment)
    inputs = [AnswerInput(i.ref, *gaps.get(i.ref, ("compliant", ""))) for i in checklist.items()]
    if leave_last:
        inputs[-1] = AnswerInput(inputs[-1].ref, None)
    svc.save_answers(session, people.auditor, assessment, inputs, None)
    session.commit()
    return checklist


@pytest.fixture
def people(session, loaded_checklists):
    return factories.team(session)


@pytest.fixture
def approved(session, people):
    """An open assessment: two gaps (one with a formula in its comment), evidence, one blank."""
    assessment = factories.assessment(session, people)
    checklist = answer_all(
        session,
        people,
        assessment,
        {
            "SO-3.1": ("non_compliant", '=HYPERLINK("http://evil") no contract'),
            "SO-2.1": ("partial", "Only for new vendors"),
        },
        leave_last=True,
    )
    evidence_svc.add(
        session,
        people.auditor,
        assessment,
        filename="contract.pdf",
        content_type="application/pdf",
        data=PDF,
        max_bytes=1000,
        item_ref="SO-3.1",
    )
    session.commit()
    return assessment, checklist


@pytest.fixture
def signed_off(session, people):
    """An approved assessment with an audit period, two findings and evidence."""
    assessment = factories.assessment(
        session, people, period_start=date(2026, 4, 1), period_end=date(2027, 3, 31)
    )
    answer_all(
        session,
        people,
        assessment,
        {"SO-3.1": ("non_compliant", "No contract"), "SO-2.1": ("partial", "Only new vendors")},
    )
    evidence_svc.add(
        session,
        people.auditor,
        assessment,
        filename="contract.pdf",
        content_type="application/pdf",
        data=PDF,
        max_bytes=1000,
        item_ref="SO-3.1",
    )
    svc.submit(session, people.auditor, assessment, None)
    svc.approve(session, people.reviewer, assessment, None, comment="Fine once SO-3.1 is fixed")
    session.commit()
    return assessment


def ar(session, assessment):
    return exports.oscal_assessment_results(session, assessment, LINKS)["assessment-results"]


def uuids_of(document) -> list[str]:
    """Every UUID a document gives or refers to, in document order."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and UUID_TEXT.fullmatch(node):
            found.append(node)

    walk(document)
    return found


# ------------------------------------------------------------------------------ CSV


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


# ------------------------------------------------------------------------------ assessment results


def test_oscal_export_validates_against_nist_schema_and_trestle(session, approved):
    assessment, checklist = approved
    document = exports.oscal_assessment_results(session, assessment, LINKS)
    model = valid_assessment_results(document)
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
    assert json.loads(json.dumps(document)) == exports.oscal_assessment_results(
        session, assessment, LINKS
    )


def test_an_approved_assessment_validates_too(session, signed_off):
    document = exports.oscal_assessment_results(session, signed_off, LINKS)
    valid_assessment_results(document)


def test_oscal_findings_link_to_their_observations(session, approved):
    assessment, _ = approved
    doc = ar(session, assessment)
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


# Paths to required fields (and one malformed value): each removal must be refused.
AR_BREAKS = [
    ("results", 0, "reviewed-controls"),
    ("results", 0, "start"),
    ("metadata", "title"),
    ("metadata", "parties", 0, "type"),
    ("metadata", "responsible-parties", 0, "party-uuids"),
    ("results", 0, "assessment-log", "entries", 1, "start"),
    ("back-matter", "resources", 1, "rlinks", 0, "href"),
    ("back-matter", "resources", 1, "rlinks", 0, "hashes", 0, "algorithm"),
    ("import-ap",),
]
#: what compliance-trestle 5.2's models let pass and NIST's 1.1.3 schema does not: the reason
#: the exports are checked against both
TRESTLE_LETS_PASS = {("metadata", "parties", 0, "type")}


@pytest.mark.parametrize("path", AR_BREAKS, ids=lambda p: "/".join(map(str, p)))
def test_the_schema_and_the_model_refuse_a_document_missing_a_required_field(
    session, signed_off, path
):
    document = exports.oscal_assessment_results(session, signed_off, LINKS)
    assert schema_errors(document) == []
    broken = copy.deepcopy(document)
    node = broken["assessment-results"]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    assert schema_errors(broken), f"NIST's schema accepted a document without {path}"
    if path in TRESTLE_LETS_PASS:
        AssessmentResults.model_validate(broken["assessment-results"])
    else:
        with pytest.raises(pydantic.ValidationError):
            AssessmentResults.model_validate(broken["assessment-results"])


def test_the_schema_refuses_a_uuid_that_is_not_version_4_or_5(session, signed_off):
    document = exports.oscal_assessment_results(session, signed_off, LINKS)
    document["assessment-results"]["uuid"] = "6f2b9a1e-3c4d-1e6f-8a9b-0c1d2e3f4a5b"  # version 1
    assert schema_errors(document)


# ------------------------------------------------------------------------------ identifiers


def test_every_uuid_is_in_the_installation_namespace_and_stable(session, signed_off):
    doc = ar(session, signed_off)
    space = installation.namespace(session)
    stored = session.get(Installation, 1)
    assert stored is not None and uuid.UUID(stored.namespace) == space
    assert uuid.UUID(stored.namespace).version == 4
    company = doc["metadata"]["parties"][0]
    assert company["uuid"] == str(uuid.uuid5(space, f"subcontractor/{signed_off.subcontractor_id}"))
    assert doc["uuid"] == str(uuid.uuid5(space, f"assessment/{signed_off.id}/assessment-results"))
    assert all(uuid.UUID(u).version == 5 for u in uuids_of(doc))
    assert ar(session, signed_off) == doc  # the same identifiers in every export


def test_another_installation_gives_the_same_local_ids_other_uuids(session, signed_off):
    """Two installations (here: the namespace row replaced, as a second install would make it)
    give different UUIDs to the same local ids, and nothing else changes."""
    first = ar(session, signed_off)
    session.exec(sa.delete(Installation))
    session.commit()
    second = ar(session, signed_off)
    assert session.get(Installation, 1) is not None  # made again, on first use
    one, other = uuids_of(first), uuids_of(second)
    assert len(one) == len(other) > 10
    assert not set(one) & set(other), "UUIDs collide across installations"
    # the structure is the same: mapping one set of UUIDs onto the other gives the same document
    rename = dict(zip(one, other, strict=True))
    text = json.dumps(first)
    for old, new in rename.items():
        text = text.replace(old, new)
    assert json.loads(text) == second


def test_two_fresh_installations_have_different_namespaces(tmp_path):
    spaces = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path}/{name}.sqlite3"
        upgrade_url(url)
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, namespace FROM installation")).all()
        engine.dispose()
        assert len(rows) == 1 and rows[0][0] == 1
        spaces.append(uuid.UUID(rows[0][1]))
    assert spaces[0] != spaces[1]
    assert all(s.version == 4 for s in spaces)


def test_the_namespace_is_made_once_when_missing(session):
    session.exec(sa.delete(Installation))  # as if someone removed the row
    session.commit()
    made = installation.namespace(session)
    assert installation.namespace(session) == made
    assert uuid.UUID(session.get(Installation, 1, populate_existing=True).namespace) == made


def test_one_subcontractor_is_one_party_in_every_assessment(session, people):
    company = factories.subcontractor(session, people.admin, "Aozora Cloud")
    first = factories.assessment(session, people, company=company, title="FY2026")
    second = factories.assessment(
        session, people, company=company, title="FY2027", auditor_ids=[people.auditor2.id]
    )

    def organisation(assessment):
        doc = ar(session, assessment)
        (party,) = [p for p in doc["metadata"]["parties"] if p["type"] == "organization"]
        subjects = {
            s["subject-uuid"]
            for o in doc["results"][0].get("observations", [])
            for s in o["subjects"]
        }
        return party["uuid"], subjects, doc

    one, _, doc_one = organisation(first)
    other, _, doc_other = organisation(second)
    assert one == other
    assert doc_one["uuid"] != doc_other["uuid"]
    assert doc_one["results"][0]["uuid"] != doc_other["results"][0]["uuid"]
    reviewer = [
        p["uuid"] for p in doc_one["metadata"]["parties"] if p["name"] == people.reviewer.name
    ]
    assert reviewer == [
        p["uuid"] for p in doc_other["metadata"]["parties"] if p["name"] == people.reviewer.name
    ]


# ------------------------------------------------------------------------- parties, log, period


def test_auditors_reviewer_and_subcontractor_are_parties_with_roles(session, people):
    assessment = factories.assessment(
        session, people, auditor_ids=[people.auditor.id, people.auditor2.id]
    )
    answer_all(session, people, assessment, {"SO-3.1": ("non_compliant", "No contract")})
    doc = ar(session, assessment)
    meta = doc["metadata"]
    assert {r["id"] for r in meta["roles"]} == {"auditor", "reviewer", "assessed-organisation"}
    parties = {p["uuid"]: p for p in meta["parties"]}
    by_role = {r["role-id"]: r["party-uuids"] for r in meta["responsible-parties"]}
    assert [parties[u]["name"] for u in by_role["auditor"]] == [
        people.auditor.name,
        people.auditor2.name,
    ]
    assert [parties[u]["type"] for u in by_role["auditor"]] == ["person", "person"]
    assert [parties[u]["name"] for u in by_role["reviewer"]] == [people.reviewer.name]
    (company,) = by_role["assessed-organisation"]
    assert parties[company]["type"] == "organization"
    subjects = {s["subject-uuid"] for o in doc["results"][0]["observations"] for s in o["subjects"]}
    assert subjects == {company}
    assert "email-addresses" not in json.dumps(meta)  # names only: exports travel
    valid_assessment_results({"assessment-results": doc})


def test_submission_and_approval_are_logged_by_who_did_them(session, people, signed_off):
    doc = ar(session, signed_off)
    parties = {p["uuid"]: p for p in doc["metadata"]["parties"]}
    entries = {e["title"]: e for e in doc["results"][0]["assessment-log"]["entries"]}
    approval = entries["Approved"]
    (logged,) = approval["logged-by"]
    assert parties[logged["party-uuid"]]["name"] == people.reviewer.name
    assert logged["role-id"] == "reviewer"
    assert approval["start"] == signed_off.approved_at.isoformat(timespec="seconds")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "assessment.approved")).one()
    props = {p["name"]: p["value"] for p in approval["props"]}
    assert props["audit-event-hash"] == event.hash
    assert approval["remarks"] == "Fine once SO-3.1 is fixed"
    submission = entries["Submitted for review"]
    assert parties[submission["logged-by"][0]["party-uuid"]]["name"] == people.auditor.name
    assert submission["logged-by"][0]["role-id"] == "auditor"


def test_an_open_assessment_has_no_approval_entry(session, approved):
    assessment, _ = approved
    assert "assessment-log" not in ar(session, assessment)["results"][0]


def test_the_audit_period_is_the_results_start_and_end(session, signed_off):
    result = ar(session, signed_off)["results"][0]
    # whole days in the users' zone (LINKS: Asia/Tokyo)
    assert result["start"] == "2026-04-01T00:00:00+09:00"
    assert result["end"] == "2027-03-31T23:59:59+09:00"


def test_evidence_carries_its_sha256_and_download_link(session, signed_off):
    doc = ar(session, signed_off)
    evidence = session.exec(select(Evidence)).one()
    (resource,) = [r for r in doc["back-matter"]["resources"] if r["title"] == "contract.pdf"]
    (link,) = resource["rlinks"]
    assert link["href"] == f"https://kansa.example/api/v1/evidence/{evidence.id}/download"
    assert link["media-type"] == "application/pdf"
    assert link["hashes"] == [{"algorithm": "SHA-256", "value": hashlib.sha256(PDF).hexdigest()}]
    observation = next(
        o for o in doc["results"][0]["observations"] if o["title"].startswith("SO-3.1")
    )
    assert observation["relevant-evidence"][0]["href"] == f"#{resource['uuid']}"


# ------------------------------------------------------------------------------ POA&M


def poam(session, assessment):
    return exports.oscal_poam(session, assessment, LINKS)


def test_poam_has_one_item_per_finding_with_its_finding_risk_and_observation(
    session, people, signed_off
):
    finding = session.exec(select(Finding).where(Finding.severity == "critical")).one()
    finding_svc.update(
        session,
        people.auditor,
        finding,
        remediation_plan="Sign the data processing agreement",
        owner="Suzuki (IT)",
        due_date=date(2027, 6, 30),
        status=FindingStatus.IN_REMEDIATION,
    )
    session.commit()
    document = poam(session, signed_off)
    model = valid_poam(document)
    doc = document["plan-of-action-and-milestones"]
    assert len(model.poam_items) == 2
    findings = {f["uuid"]: f for f in doc["findings"]}
    risks = {r["uuid"]: r for r in doc["risks"]}
    observations = {o["uuid"] for o in doc["observations"]}
    for item in doc["poam-items"]:
        (related,) = item["related-findings"]
        assert related["finding-uuid"] in findings
        (risk,) = item["related-risks"]
        assert risk["risk-uuid"] in risks
        assert item["related-observations"][0]["observation-uuid"] in observations
        assert findings[related["finding-uuid"]]["related-risks"] == [risk]
    # the same finding has the same UUID in the assessment results and in the POA&M
    ar_findings = {
        f["target"]["target-id"]: f["uuid"]
        for f in ar(session, signed_off)["results"][0]["findings"]
    }
    assert {f["target"]["target-id"]: u for u, f in findings.items()} == ar_findings
    (planned,) = [i for i in doc["poam-items"] if i["title"].startswith("SO-3.1")]
    props = {p["name"]: p["value"] for p in planned["props"]}
    assert props["owner"] == "Suzuki (IT)" and props["due-date"] == "2027-06-30"
    assert planned["description"] == "Sign the data processing agreement"
    risk = risks[planned["related-risks"][0]["risk-uuid"]]
    assert risk["status"] == "remediating"
    assert risk["deadline"] == "2027-06-30T23:59:59+09:00"
    (remediation,) = risk["remediations"]
    assert remediation["description"] == "Sign the data processing agreement"
    (task,) = remediation["tasks"]
    assert task["timing"]["on-date"]["date"] == risk["deadline"]
    (owner_role,) = task["responsible-roles"]
    parties = {p["uuid"]: p for p in doc["metadata"]["parties"]}
    assert owner_role["role-id"] == "remediation-owner"
    assert parties[owner_role["party-uuids"][0]]["name"] == "Suzuki (IT)"
    roles = {r["role-id"]: r["party-uuids"] for r in doc["metadata"]["responsible-parties"]}
    assert roles["remediation-owner"] == owner_role["party-uuids"]
    origins = planned["origins"][0]["actors"]
    assert [parties[a["actor-uuid"]]["name"] for a in origins] == [people.auditor.name]
    evidence = [r for r in doc["back-matter"]["resources"] if r["title"] == "contract.pdf"]
    assert evidence[0]["rlinks"][0]["hashes"][0]["algorithm"] == "SHA-256"
    assert poam(session, signed_off) == document  # stable


POAM_BREAKS = [
    ("poam-items",),
    ("poam-items", 0, "title"),
    ("poam-items", 0, "related-findings", 0, "finding-uuid"),
    ("risks", 0, "statement"),
    ("risks", 0, "status"),
    ("findings", 0, "target"),
    ("metadata", "oscal-version"),
]


@pytest.mark.parametrize("path", POAM_BREAKS, ids=lambda p: "/".join(map(str, p)))
def test_the_poam_schema_refuses_a_document_missing_a_required_field(session, signed_off, path):
    document = poam(session, signed_off)
    assert schema_errors(document) == []
    broken = copy.deepcopy(document)
    node = broken["plan-of-action-and-milestones"]
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    assert schema_errors(broken), f"NIST's schema accepted a POA&M without {path}"


def test_an_assessment_without_findings_has_no_poam(session, people):
    assessment = factories.assessment(session, people)
    with pytest.raises(NotFound, match="no findings"):
        poam(session, assessment)


def test_the_open_poam_lists_only_unresolved_findings_of_every_assessment(session, people):
    first = factories.assessment(session, people, title="First")
    answer_all(
        session,
        people,
        first,
        {"SO-3.1": ("non_compliant", "No contract"), "SO-2.1": ("partial", "Only new vendors")},
    )
    other = factories.subcontractor(session, people.admin, "Hikari Data")
    second = factories.assessment(session, people, company=other, title="Second")
    answer_all(
        session,
        people,
        second,
        {"SO-3.1": ("non_compliant", "Missing"), "SO-1.1": ("non_compliant", "No register")},
    )
    by_ref = {
        (assessment.id, ref): finding
        for assessment in (first, second)
        for finding, ref in finding_svc.of_assessment(session, assessment)
    }
    assert len(by_ref) == 4

    def set_status(assessment, ref, status):
        finding = by_ref[(assessment.id, ref)]
        finding_svc.update(
            session,
            people.auditor,
            finding,
            remediation_plan=finding.remediation_plan,
            owner=finding.owner,
            due_date=finding.due_date,
            status=status,
        )

    set_status(first, "SO-2.1", FindingStatus.CLOSED)
    set_status(second, "SO-1.1", FindingStatus.RISK_ACCEPTED)
    set_status(second, "SO-3.1", FindingStatus.IN_REMEDIATION)
    session.commit()
    document = exports.oscal_open_poam(session, people.viewer, LINKS)
    valid_poam(document)
    doc = document["plan-of-action-and-milestones"]
    listed = {
        ({p["name"]: p["value"] for p in i["props"]}["assessment-id"], i["title"].split(":")[0])
        for i in doc["poam-items"]
    }
    assert listed == {(str(first.id), "SO-3.1"), (str(second.id), "SO-3.1")}
    organisations = [p["name"] for p in doc["metadata"]["parties"] if p["type"] == "organization"]
    assert sorted(organisations) == ["Aozora Cloud", "Hikari Data"]
    # the per-assessment POA&M still lists its closed finding, as closed
    closed = poam(session, first)["plan-of-action-and-milestones"]
    assert sorted(r["status"] for r in closed["risks"]) == ["closed", "open"]
    # once nothing is open, there is no plan
    set_status(first, "SO-3.1", FindingStatus.CLOSED)
    set_status(second, "SO-3.1", FindingStatus.CLOSED)
    session.commit()
    with pytest.raises(NotFound):
        exports.oscal_open_poam(session, people.viewer, LINKS)


# ------------------------------------------------------------------------------ pages


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
    valid_assessment_results(oscal.get_json())
    assert client.get("/assessments/999/answers.csv").status_code == 404
    # no findings yet: no POA&M link, and the address answers 404
    assert "poam.json" not in client.get(f"/assessments/{aid}").get_data(as_text=True)
    assert client.get(f"/assessments/{aid}/poam.json").status_code == 404


def test_poam_downloads_from_the_assessment_page(client, app, session, people, signed_off):
    from tests.test_web_assessments import sign_in

    sign_in(client, "viewer")
    page = client.get(f"/assessments/{signed_off.id}").get_data(as_text=True)
    assert f"/assessments/{signed_off.id}/poam.json" in page
    response = client.get(f"/assessments/{signed_off.id}/poam.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=kansa-assessment-{signed_off.id}-oscal-poam.json"
    )
    valid_poam(response.get_json())
