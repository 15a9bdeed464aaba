"""Score snapshots, findings kept in step with answers, and the review workflow."""

import pytest
from sqlmodel import select

from audit.models import Finding
from audit.services import Conflict, Forbidden, ServiceError
from audit.services import assessments as svc
from audit.services.assessments import AnswerInput, NotReady, StaleRevision
from tests import factories


@pytest.fixture
def people(session, loaded_checklists):
    return factories.team(session)


def answer_all(session, people, assessment, status="compliant", overrides=None):
    checklist = svc.definition(session, assessment)
    overrides = overrides or {}
    inputs = [
        AnswerInput(item.ref, *overrides.get(item.ref, (status, ""))) for item in checklist.items()
    ]
    svc.save_answers(session, people.auditor, assessment, inputs, assessment.revision)
    session.commit()


def findings_by_ref(session, assessment):
    from audit.models import ChecklistItem

    rows = session.exec(
        select(ChecklistItem.ref, Finding)
        .join(Finding, Finding.item_id == ChecklistItem.id)
        .where(Finding.assessment_id == assessment.id)
    ).all()
    return dict(rows)


def test_live_score_follows_answers_while_open(session, people):
    assessment = factories.assessment(session, people)
    first = svc.live_score(session, assessment)
    assert first.provisional and first.completion == 0.0
    answer_all(session, people, assessment)
    result = svc.live_score(session, assessment)
    assert (result.score, result.rating, result.provisional) == (100.0, "A", False)
    assert assessment.state == "in_progress"
    assert assessment.score_snapshot is None  # only stored at submission and approval


def test_submit_refuses_unanswered_and_uncommented_items(session, people):
    assessment = factories.assessment(session, people)
    svc.save_answers(
        session,
        people.auditor,
        assessment,
        [AnswerInput("SO-1.1", "partial", ""), AnswerInput("SO-1.2", "compliant")],
        assessment.revision,
    )
    session.commit()
    revision = assessment.revision
    with pytest.raises(NotReady) as refused:
        svc.submit(session, people.auditor, assessment, revision)
    kinds = {(p.ref, p.kind) for p in refused.value.problems}
    assert ("SO-1.1", "comment_required") in kinds
    assert ("SO-1.3", "unanswered") in kinds
    assert ("SO-1.2", "unanswered") not in kinds
    session.rollback()
    assert svc.get(session, assessment.id).state == "in_progress"
    assert svc.get(session, assessment.id).revision == revision


def test_snapshot_stored_at_submission_and_approval(session, people):
    assessment = factories.assessment(session, people)
    answer_all(session, people, assessment, overrides={"SO-3.1": ("non_compliant", "No contract")})
    svc.submit(session, people.auditor, assessment, assessment.revision)
    session.commit()
    snap = assessment.score_snapshot
    assert assessment.state == "submitted"
    assert snap["rating"] == "D"  # critical SO-3.1 non_compliant caps at D
    assert any("SO-3.1" in cap["items"] for cap in snap["caps"])
    assert [s["ref"] for s in snap["sections"]][:2] == ["SO-1", "SO-2"]
    svc.approve(session, people.reviewer, assessment, assessment.revision, "ok")
    session.commit()
    assert assessment.state == "approved"
    assert assessment.score_snapshot["rating"] == "D"
    assert assessment.approved_at is not None


def test_approval_freezes_the_assessment(session, people):
    assessment = factories.assessment(session, people)
    answer_all(session, people, assessment)
    svc.submit(session, people.auditor, assessment, assessment.revision)
    svc.approve(session, people.reviewer, assessment, assessment.revision)
    session.commit()
    with pytest.raises(Conflict, match="approved: it accepts no changes"):
        svc.save_answers(
            session,
            people.auditor,
            assessment,
            [AnswerInput("SO-1.1", "partial", "x")],
            assessment.revision,
        )
    with pytest.raises(Conflict):
        svc.save_answers(
            session, people.admin, assessment, [AnswerInput("SO-1.1", "partial", "x")], None
        )


def test_findings_keep_what_auditors_wrote_when_answers_change(session, people):
    assessment = factories.assessment(session, people)
    save = lambda status, comment="gap": svc.save_answers(  # noqa: E731
        session,
        people.auditor,
        assessment,
        [AnswerInput("SO-3.1", status, comment)],
        assessment.revision,
    )
    save("non_compliant")
    session.commit()
    finding = findings_by_ref(session, assessment)["SO-3.1"]
    assert (finding.severity, finding.current, finding.status) == ("critical", True, "open")
    finding.remediation_plan, finding.owner = "Sign the DPA", "Legal"
    session.add(finding)
    session.commit()

    save("partial")
    session.commit()
    finding = findings_by_ref(session, assessment)["SO-3.1"]
    assert finding.severity == "high" and finding.current
    assert finding.remediation_plan == "Sign the DPA"

    save("compliant", "")
    session.commit()
    finding = findings_by_ref(session, assessment)["SO-3.1"]
    assert not finding.current
    assert finding.remediation_plan == "Sign the DPA"

    save("non_compliant")
    session.commit()
    found = findings_by_ref(session, assessment)
    assert len(found) == 1
    assert found["SO-3.1"].current and found["SO-3.1"].owner == "Legal"
    assert found["SO-3.1"].severity == "critical"


def test_stale_revision_writes_nothing(session, people):
    assessment = factories.assessment(session, people)
    svc.save_answers(session, people.auditor, assessment, [AnswerInput("SO-1.1", "compliant")], 1)
    session.commit()
    with pytest.raises(StaleRevision, match="nothing was saved"):
        svc.save_answers(
            session, people.auditor, assessment, [AnswerInput("SO-1.1", "partial", "x")], 1
        )
    session.rollback()
    answers = svc.answers_by_ref(session, svc.get(session, assessment.id))
    assert answers["SO-1.1"].status == "compliant"


def test_bad_answers_are_refused_before_anything_is_written(session, people):
    assessment = factories.assessment(session, people)
    svc.save_answers(session, people.auditor, assessment, [AnswerInput("SO-1.2", "compliant")], 1)
    session.commit()
    for bad, message in (
        (AnswerInput("SO-9.9", "compliant"), "SO-9.9 is not in this checklist"),
        (AnswerInput("SO-1.3", "maybe"), "'maybe' is not an allowed answer"),
        (AnswerInput("SO-1.1", "not_applicable"), "SO-1.1: 'not_applicable' is not an allowed"),
    ):
        with pytest.raises(ServiceError, match=message):
            svc.save_answers(
                session,
                people.auditor,
                assessment,
                [AnswerInput("SO-1.2", "partial", "changed"), bad],
                2,
            )
        session.rollback()
    stored = svc.get(session, assessment.id)
    assert stored.revision == 2
    assert svc.answers_by_ref(session, stored)["SO-1.2"].status == "compliant"


def test_roles_on_answers_and_review(session, people):
    assessment = factories.assessment(session, people)
    for outsider in (people.auditor2, people.viewer, people.reviewer):
        with pytest.raises(Forbidden):
            svc.save_answers(
                session, outsider, assessment, [AnswerInput("SO-1.1", "compliant")], None
            )
    answer_all(session, people, assessment)
    svc.submit(session, people.auditor, assessment, assessment.revision)
    session.commit()
    with pytest.raises(Forbidden):
        svc.approve(session, people.auditor, assessment, None)
    with pytest.raises(Forbidden):
        svc.approve(session, people.viewer, assessment, None)
    with pytest.raises(ServiceError, match="say what the auditors should change"):
        svc.return_to_auditors(session, people.reviewer, assessment, None, "  ")
    svc.return_to_auditors(session, people.reviewer, assessment, None, "Add evidence")
    session.commit()
    assert assessment.state == "returned" and assessment.editable


def test_reviewer_cannot_be_an_auditor(session, people):
    company = factories.subcontractor(session, people.admin)
    with pytest.raises(ServiceError, match="reviewer cannot be one of the auditors"):
        svc.create(
            session,
            people.admin,
            subcontractor_id=company.id,
            checklist_version_id=factories.version(session, "safety-management").id,
            auditor_ids=[people.admin.id],
            reviewer_id=people.admin.id,
        )
