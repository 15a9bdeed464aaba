"""Assessments: creation, answers, findings from answers, and the review workflow.

The web pages, the API and the command line all call these functions. Who may do what is asked
of ``audit.policies`` here, with the facts loaded from the database, so a rule holds whichever
door a request comes through and the refusal (403, 409, 412 or 422) is the same on each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies, rules
from ..checklists import ChecklistDefinition
from ..limits import COMMENT_MAX, TITLE_MAX
from ..models import (
    Answer,
    Assessment,
    AssessmentAuditor,
    ChecklistItem,
    ChecklistVersion,
    Evidence,
    Finding,
    Subcontractor,
    User,
    id_of,
    utcnow,
)
from ..vocabulary import AssessmentState, WebhookEvent
from . import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    Problems,
    StaleRevision,
    events,
    revisions,
    visibility,
    webhooks,
)
from .checklists import AnswerInput, check_answers, definition_for

__all__ = ["AnswerInput", "NotReady", "StaleRevision"]


class NotReady(Conflict):
    """Submission refused: ``problems`` lists each item (or particular) still missing something."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        found = tuple(problems)
        super().__init__(
            f"the assessment cannot be submitted yet: {len(found)} item(s) need attention",
            problems=found,
        )


# ------------------------------------------------------------------------------ permissions


def auditor_ids(session: Session, assessment: Assessment) -> set[int]:
    """The ids of the auditors assigned to an assessment."""
    return set(
        session.exec(
            select(AssessmentAuditor.user_id).where(
                AssessmentAuditor.assessment_id == assessment.id
            )
        ).all()
    )


def can_edit(session: Session, user: User, assessment: Assessment) -> bool:
    """``policies.may_edit`` with the assessment's auditors loaded."""
    return policies.may_edit(user, assessment, auditor_ids(session, assessment))


def can_review(session: Session, user: User, assessment: Assessment) -> bool:
    """``policies.may_review`` with the assessment's auditors loaded (whatever its state)."""
    return policies.may_review(user, assessment, auditor_ids(session, assessment))


def require_view(user: User, assessment: Assessment) -> None:
    """Refuse (403) a person who may not read assessments."""
    if not policies.may_view(user):
        raise Forbidden("you may not read this assessment")


def require_edit(session: Session, user: User, assessment: Assessment) -> None:
    """Refuse a change: 409 when the assessment is closed, 403 when not one of its auditors."""
    if not policies.accepts_changes(assessment.state):
        raise Conflict(f"assessment {assessment.id} is {assessment.state}: it accepts no changes")
    if not can_edit(session, user, assessment):
        raise Forbidden("only the assessment's assigned auditors may change it")


def require_review(session: Session, user: User, assessment: Assessment) -> None:
    """Refuse a decision: 409 unless submitted, 403 unless the person is its reviewer."""
    if not policies.is_under_review(assessment.state):
        raise Conflict(f"assessment {assessment.id} is {assessment.state}, not submitted")
    if not can_review(session, user, assessment):
        raise Forbidden("only the assigned reviewer, who is not one of its auditors, may review")


# ------------------------------------------------------------------------------ reading


def get(session: Session, assessment_id: int) -> Assessment:
    """The assessment with this id; ``NotFound`` when there is none."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    return assessment


def get_for(session: Session, user: User, assessment_id: int) -> Assessment:
    """The assessment, if ``user`` may read it (404, then 403, otherwise).

    One out of the person's sight under the visibility setting is answered 404, as if it did not
    exist (``visibility.require_assessment``).
    """
    assessment = get(session, assessment_id)
    visibility.require_assessment(session, user, assessment)
    require_view(user, assessment)
    return assessment


def version_of(session: Session, assessment: Assessment) -> ChecklistVersion:
    """The stored checklist version the assessment is pinned to."""
    version = session.get(ChecklistVersion, assessment.checklist_version_id)
    assert version is not None  # a foreign key
    return version


def definition(session: Session, assessment: Assessment) -> ChecklistDefinition:
    """The checklist version this assessment is pinned to."""
    return definition_for(version_of(session, assessment))


def answers_by_ref(session: Session, assessment: Assessment) -> dict[str, Answer]:
    """The stored answers of an assessment, by item ref."""
    rows = session.exec(
        select(ChecklistItem.ref, Answer)
        .join(Answer, col(Answer.item_id) == ChecklistItem.id)
        .where(Answer.assessment_id == assessment.id)
    ).all()
    return {ref: answer for ref, answer in rows}


def item_ids(session: Session, version_id: int) -> dict[str, int]:
    """Item ids of a stored checklist version, by ref."""
    rows = session.exec(
        select(ChecklistItem.ref, ChecklistItem.id).where(ChecklistItem.version_id == version_id)
    ).all()
    return {ref: item_id for ref, item_id in rows if item_id is not None}


def live_score(session: Session, assessment: Assessment) -> rules.ScoreResult:
    """The rules module's result for the answers as they stand now."""
    answers = {ref: a.status for ref, a in answers_by_ref(session, assessment).items()}
    return rules.score(definition(session, assessment), answers)


def preview_score(
    session: Session, assessment: Assessment, overlay: Mapping[str, Any]
) -> rules.ScoreResult:
    """The score of the stored answers with ``overlay`` (ref -> answer) on top; stores nothing.

    Answers the item does not allow and unknown refs in the overlay are left out: a preview
    shows what a save would give, and a save refuses those.
    """
    checklist = definition(session, assessment)
    answers = {ref: a.status for ref, a in answers_by_ref(session, assessment).items()}
    index = checklist.item_index()
    for ref, status in overlay.items():
        if ref in index and status in index[ref].answers:
            answers[ref] = status
    return rules.score(checklist, answers)


# ------------------------------------------------------------------------------ creating


def _people(session: Session, ids: Iterable[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(User).where(col(User.id).in_(wanted))).all()
    return {u.id: u for u in rows if u.id is not None}


def _check_auditors(problems: Problems, people: Mapping[int, User], auditors: list[int]) -> None:
    if not auditors:
        problems.add("auditor_ids", "at least one auditor is required")
    for user_id in auditors:
        person = people.get(user_id)
        if person is None or not policies.may_audit(person):
            problems.add("auditor_ids", f"user {user_id} is not an active auditor")


def _check_reviewer(
    problems: Problems, people: Mapping[int, User], reviewer_id: int, auditors: Iterable[int]
) -> None:
    reviewer = people.get(reviewer_id)
    if reviewer is None or not policies.may_be_reviewer(reviewer):
        problems.add("reviewer_id", f"user {reviewer_id} is not an active reviewer")
    elif reviewer_id in auditors:
        problems.add("reviewer_id", "the reviewer cannot be one of the auditors")


def _check_period(problems: Problems, start: date | None, end: date | None) -> None:
    if start and end and end < start:
        problems.add("period_end", "the period ends before it starts")


def _check_title(problems: Problems, title: str) -> None:
    if len(title) > TITLE_MAX:
        problems.add("title", f"the title is over {TITLE_MAX} characters")


def create(
    session: Session,
    actor: User,
    *,
    subcontractor_id: int | None,
    checklist_version_id: int | None,
    auditor_ids: Iterable[int],
    reviewer_id: int | None,
    title: str | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    due_date: date | None = None,
) -> Assessment:
    """Create a draft assessment pinned to a published checklist version.

    Every problem of the request is reported at once (422), after the permission check (403).
    """
    if not policies.may_create_assessment(actor):
        raise Forbidden("only auditors and admins create assessments")
    problems = Problems()
    subcontractor = session.get(Subcontractor, subcontractor_id) if subcontractor_id else None
    if subcontractor is None or not visibility.sees_subcontractor(
        session, actor, id_of(subcontractor)
    ):
        # one out of the planner's sight is as unknown as one that does not exist
        problems.add("subcontractor_id", f"no subcontractor {subcontractor_id}")
        subcontractor = None
    version = session.get(ChecklistVersion, checklist_version_id) if checklist_version_id else None
    if version is None:
        problems.add("checklist_version_id", f"no checklist version {checklist_version_id}")
    auditors = sorted(set(auditor_ids))
    people = _people(session, [*auditors, reviewer_id])
    _check_auditors(problems, people, auditors)
    if reviewer_id is not None:
        _check_reviewer(problems, people, reviewer_id, auditors)
    _check_period(problems, period_start, period_end)
    title = (title or "").strip()
    _check_title(problems, title)
    if due_date is None:
        problems.add("due_date", "give a due date")
    problems.check()
    assert subcontractor is not None and version is not None
    assessment = Assessment(
        subcontractor_id=id_of(subcontractor),
        checklist_version_id=id_of(version),
        title=(title or f"{subcontractor.name} — {version.title_en} {version.version}")[:TITLE_MAX],
        period_start=period_start,
        period_end=period_end,
        due_date=due_date,
        reviewer_id=reviewer_id,
        created_by_id=actor.id,
    )
    session.add(assessment)
    session.flush()
    for user_id in auditors:
        session.add(AssessmentAuditor(assessment_id=id_of(assessment), user_id=user_id))
    session.flush()
    events.record(
        session,
        actor,
        "assessment.created",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        after={
            "subcontractor_id": subcontractor.id,
            "checklist": f"{version.content['slug']} {version.version}",
            "auditor_ids": auditors,
            "reviewer_id": reviewer_id,
            "due_date": due_date,
        },
    )
    return assessment


# ------------------------------------------------------------------------------ particulars

#: The particulars of an open assessment that may be changed after creation.
DETAIL_FIELDS = ("title", "due_date", "reviewer_id", "period_start", "period_end")


def update_details(
    session: Session,
    actor: User,
    assessment: Assessment,
    changes: dict[str, Any],
    expected_revision: int | None,
) -> Assessment:
    """Change title, due date, reviewer or period while the assessment is open."""
    require_edit(session, actor, assessment)
    problems = Problems()
    for name in sorted(set(changes) - set(DETAIL_FIELDS)):
        problems.add(name, f"{name!r} cannot be changed here")
    merged = {f: getattr(assessment, f) for f in DETAIL_FIELDS} | {
        k: v for k, v in changes.items() if k in DETAIL_FIELDS
    }
    title = (merged["title"] or "").strip()
    if not title:
        problems.add("title", "the title cannot be empty")
    _check_title(problems, title)
    merged["title"] = title
    for key in ("due_date", "period_start", "period_end"):
        if merged[key] is not None and not isinstance(merged[key], date):
            problems.add(key, "must be a date")
    if "period_start" not in problems and "period_end" not in problems:
        _check_period(problems, merged["period_start"], merged["period_end"])
    reviewer_id = merged["reviewer_id"]
    if reviewer_id is not None and reviewer_id != assessment.reviewer_id:
        people = _people(session, [reviewer_id])
        _check_reviewer(problems, people, reviewer_id, auditor_ids(session, assessment))
    problems.check()
    before = {f: getattr(assessment, f) for f in DETAIL_FIELDS}
    changed = [f for f in DETAIL_FIELDS if before[f] != merged[f]]
    bump_revision(session, assessment, expected_revision)
    for key in changed:
        setattr(assessment, key, merged[key])
    session.add(assessment)
    session.flush()
    if changed:
        events.record(
            session,
            actor,
            "assessment.updated",
            "assessment",
            assessment.id,
            assessment_id=assessment.id,
            before={f: before[f] for f in changed},
            after={f: merged[f] for f in changed},
        )
    return assessment


def delete_draft(
    session: Session, actor: User, assessment: Assessment, expected_revision: int | None
) -> None:
    """Delete a draft nobody has worked on: no answers, no evidence; by its creator or an admin."""
    if not policies.may_delete_draft(actor, assessment):
        raise Forbidden("only the assessment's creator or an admin may delete it")
    if not policies.may_be_deleted(assessment.state):
        raise Conflict(
            f"assessment {assessment.id} is {assessment.state}: only drafts can be deleted"
        )
    answers = session.exec(
        select(sa.func.count()).select_from(Answer).where(Answer.assessment_id == assessment.id)
    ).one()
    if answers:
        raise Conflict(f"assessment {assessment.id} has {answers} answer(s): it cannot be deleted")
    files = session.exec(
        select(sa.func.count()).select_from(Evidence).where(Evidence.assessment_id == assessment.id)
    ).one()
    if files:
        raise Conflict(
            f"assessment {assessment.id} has {files} evidence file(s): it cannot be deleted"
        )
    events.record(
        session,
        actor,
        "assessment.deleted",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={
            "title": assessment.title,
            "subcontractor_id": assessment.subcontractor_id,
            "checklist_version_id": assessment.checklist_version_id,
            "revision": assessment.revision,
        },
    )
    revisions.delete(session, assessment, expected_revision, f"assessment {assessment.id}")


# ------------------------------------------------------------------------------ answers


def bump_revision(session: Session, assessment: Assessment, expected: int | None) -> None:
    """Atomically move the revision on, refusing a stale ``expected`` (compare-and-set, 412)."""
    revisions.bump(session, assessment, expected, f"assessment {assessment.id}")


def save_answers(
    session: Session,
    actor: User,
    assessment: Assessment,
    inputs: Iterable[AnswerInput],
    expected_revision: int | None,
) -> Assessment:
    """Save answers all-or-nothing, refresh findings, and move the revision on.

    ``expected_revision`` must equal the stored revision (``None`` skips the check, for seeding
    and the command line only). Every answer is validated before anything is written, and a
    refusal names every item that is wrong.
    """
    require_edit(session, actor, assessment)
    checklist = definition(session, assessment)
    inputs = list(inputs)
    check_answers(checklist, inputs)
    bump_revision(session, assessment, expected_revision)
    ids = item_ids(session, assessment.checklist_version_id)
    existing = answers_by_ref(session, assessment)
    now = utcnow()
    for entry in inputs:
        comment = entry.comment.strip()
        answer = existing.get(entry.ref)
        before = {"status": answer.status, "comment": answer.comment} if answer else None
        if entry.status is None:
            if answer is not None:
                session.delete(answer)
                existing.pop(entry.ref)
        elif answer is None:
            answer = Answer(
                assessment_id=id_of(assessment),
                item_id=ids[entry.ref],
                status=entry.status,
                comment=comment,
                answered_by_id=actor.id,
                answered_at=now,
            )
            session.add(answer)
            existing[entry.ref] = answer
        elif (answer.status, answer.comment) != (entry.status, comment):
            answer.status, answer.comment = entry.status, comment
            answer.answered_by_id, answer.answered_at = actor.id, now
        else:
            continue
        after = {"status": entry.status, "comment": comment} if entry.status else None
        events.record(
            session,
            actor,
            "answer.saved",
            "answer",
            f"{assessment.id}:{entry.ref}",
            assessment_id=assessment.id,
            before=before,
            after=after,
        )
    if assessment.state == AssessmentState.DRAFT:
        assessment.state = AssessmentState.IN_PROGRESS
    session.add(assessment)
    session.flush()
    sync_findings(session, assessment, checklist, {r: a.status for r, a in existing.items()}, ids)
    return assessment


def sync_findings(
    session: Session,
    assessment: Assessment,
    checklist: ChecklistDefinition,
    answers: Mapping[str, str],
    ids: Mapping[str, int] | None = None,
) -> None:
    """Create or update findings from answers; plans, owners and due dates are never lost.

    A finding whose answer improves is marked not ``current`` rather than deleted, so its
    remediation notes come back if the answer turns bad again.
    """
    ids = ids or item_ids(session, assessment.checklist_version_id)
    by_item = {
        f.item_id: f
        for f in session.exec(select(Finding).where(Finding.assessment_id == assessment.id)).all()
    }
    drafts = {ids[d.ref]: d for d in rules.findings(checklist, answers)}
    now = utcnow()
    for item_id, draft in drafts.items():
        finding = by_item.get(item_id)
        if finding is None:
            session.add(
                Finding(
                    assessment_id=id_of(assessment),
                    item_id=item_id,
                    severity=draft.severity,
                    title=draft.title,
                )
            )
        elif not finding.current or finding.severity != draft.severity:
            finding.current, finding.severity, finding.updated_at = True, draft.severity, now
            finding.revision += 1
            session.add(finding)
    for item_id, finding in by_item.items():
        if item_id not in drafts and finding.current:
            finding.current, finding.updated_at = False, now
            finding.revision += 1
            session.add(finding)
    session.flush()


# ------------------------------------------------------------------------------ workflow


def _snapshot(result: rules.ScoreResult) -> dict[str, Any]:
    data = result.as_dict()
    return {
        key: data[key]
        for key in (
            "score",
            "rating",
            "band_rating",
            "provisional",
            "completion",
            "counts",
            "sections",
            "caps",
        )
    } | {"computed_at": utcnow().isoformat()}


def webhook_payload(session: Session, assessment: Assessment) -> dict[str, Any]:
    """What a webhook receiver learns about an assessment."""
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    version = version_of(session, assessment)
    assert subcontractor is not None  # a foreign key
    snapshot = assessment.score_snapshot or {}
    return {
        "assessment": {
            "id": assessment.id,
            "title": assessment.title,
            "state": assessment.state,
            "revision": assessment.revision,
            "subcontractor": {"id": subcontractor.id, "name": subcontractor.name},
            "checklist": {
                "slug": version.content["slug"],
                "version": version.version,
                "content_hash": version.content_hash,
            },
            "score": snapshot.get("score"),
            "rating": snapshot.get("rating"),
            "due_date": assessment.due_date,
            "review_comment": assessment.review_comment,
        }
    }


def submission_problems(session: Session, assessment: Assessment) -> list[Problem]:
    """Everything that keeps an assessment from submission: items first, then particulars."""
    checklist = definition(session, assessment)
    answers = answers_by_ref(session, assessment)
    found = [
        Problem(p.ref, p.message, p.kind, ref=p.ref)
        for p in rules.submission_problems(
            checklist,
            {r: a.status for r, a in answers.items()},
            {r: a.comment for r, a in answers.items()},
        )
    ]
    if assessment.reviewer_id is None:
        found.append(
            Problem("reviewer_id", "Assign a reviewer before submitting.", "reviewer_missing")
        )
    return found


def submit(
    session: Session, actor: User, assessment: Assessment, expected_revision: int | None
) -> Assessment:
    """Submit for review: every item answered, every gap commented, a reviewer assigned.

    Refuses with ``NotReady`` (409) listing every problem at once; stores the score snapshot.
    """
    require_edit(session, actor, assessment)
    problems = submission_problems(session, assessment)
    if problems:
        raise NotReady(problems)
    bump_revision(session, assessment, expected_revision)
    before = assessment.state
    result = live_score(session, assessment)
    assessment.state = AssessmentState.SUBMITTED
    assessment.submitted_at = utcnow()
    assessment.score_snapshot = _snapshot(result)
    session.add(assessment)
    events.record(
        session,
        actor,
        "assessment.submitted",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={"state": before},
        after={"state": AssessmentState.SUBMITTED, "score": result.score, "rating": result.rating},
    )
    webhooks.enqueue(
        session, WebhookEvent.ASSESSMENT_SUBMITTED, webhook_payload(session, assessment)
    )
    return assessment


def _check_review_comment(comment: str, required: bool) -> str:
    problems = Problems()
    if required and not comment.strip():
        problems.add("comment", "say what the auditors should change")
    if len(comment) > COMMENT_MAX:
        problems.add("comment", f"the comment is over {COMMENT_MAX:,} characters")
    problems.check()
    return comment.strip()


def approve(
    session: Session,
    actor: User,
    assessment: Assessment,
    expected_revision: int | None,
    comment: str = "",
) -> Assessment:
    """Approve: freezes the assessment and stores the final score snapshot."""
    require_review(session, actor, assessment)
    comment = _check_review_comment(comment, required=False)
    bump_revision(session, assessment, expected_revision)
    result = live_score(session, assessment)
    assessment.state = AssessmentState.APPROVED
    assessment.approved_at = utcnow()
    assessment.review_comment = comment or None
    assessment.score_snapshot = _snapshot(result)
    session.add(assessment)
    events.record(
        session,
        actor,
        "assessment.approved",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={"state": AssessmentState.SUBMITTED},
        after={"state": AssessmentState.APPROVED, "score": result.score, "rating": result.rating},
    )
    webhooks.enqueue(
        session, WebhookEvent.ASSESSMENT_APPROVED, webhook_payload(session, assessment)
    )
    return assessment


def return_to_auditors(
    session: Session,
    actor: User,
    assessment: Assessment,
    expected_revision: int | None,
    comment: str,
) -> Assessment:
    """Return to the auditors with a comment saying what to change."""
    require_review(session, actor, assessment)
    comment = _check_review_comment(comment, required=True)
    bump_revision(session, assessment, expected_revision)
    assessment.state = AssessmentState.RETURNED
    assessment.review_comment = comment
    session.add(assessment)
    events.record(
        session,
        actor,
        "assessment.returned",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={"state": AssessmentState.SUBMITTED},
        after={"state": AssessmentState.RETURNED, "comment": comment},
    )
    webhooks.enqueue(
        session, WebhookEvent.ASSESSMENT_RETURNED, webhook_payload(session, assessment)
    )
    return assessment
