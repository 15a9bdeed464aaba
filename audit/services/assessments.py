"""Assessments: creation, answers, findings from answers, and the review workflow.

The web pages, the API and the command line all call these functions; permission checks live
here too, so a rule holds whichever door a request comes through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from .. import rules
from ..checklists import ChecklistDefinition
from ..models import (
    EDITABLE_STATES,
    Answer,
    Assessment,
    AssessmentAuditor,
    ChecklistItem,
    ChecklistVersion,
    Finding,
    Subcontractor,
    User,
    utcnow,
)
from . import Conflict, Forbidden, NotFound, ServiceError, events, webhooks
from .checklists import definition_for


class StaleRevision(ServiceError):
    """The assessment changed since the client read it; nothing was written."""

    status = 412


class NotReady(ServiceError):
    """Submission refused: ``problems`` lists each item still missing something."""

    status = 409

    def __init__(self, problems: list[rules.Problem]) -> None:
        super().__init__(
            f"the assessment cannot be submitted yet: {len(problems)} item(s) need attention"
        )
        self.problems = problems


@dataclass(frozen=True)
class AnswerInput:
    """One answer as sent by a form or the API; ``status`` None clears the answer."""

    ref: str
    status: str | None
    comment: str = ""


# ------------------------------------------------------------------------------ permissions


def auditor_ids(session: Session, assessment: Assessment) -> set[int]:
    return set(
        session.exec(
            select(AssessmentAuditor.user_id).where(
                AssessmentAuditor.assessment_id == assessment.id
            )
        ).all()
    )


def can_view(user: User, assessment: Assessment) -> bool:
    """Every signed-in role may read assessments (viewers included)."""
    return user.is_active


def can_edit(session: Session, user: User, assessment: Assessment) -> bool:
    """Assigned auditors (and admins) edit, and only while the assessment is open."""
    if assessment.state not in EDITABLE_STATES:
        return False
    if user.role == "admin":
        return True
    return user.role == "auditor" and user.id in auditor_ids(session, assessment)


def can_review(session: Session, user: User, assessment: Assessment) -> bool:
    """The assigned reviewer, or an admin, and never one of the assessment's own auditors."""
    if user.id in auditor_ids(session, assessment):
        return False
    if user.role == "admin":
        return True
    return user.role == "reviewer" and assessment.reviewer_id == user.id


def require_edit(session: Session, user: User, assessment: Assessment) -> None:
    if assessment.state not in EDITABLE_STATES:
        raise Conflict(f"assessment {assessment.id} is {assessment.state}: it accepts no changes")
    if not can_edit(session, user, assessment):
        raise Forbidden("only the assessment's assigned auditors may change it")


# ------------------------------------------------------------------------------ reading


def get(session: Session, assessment_id: int) -> Assessment:
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    return assessment


def definition(session: Session, assessment: Assessment) -> ChecklistDefinition:
    """The checklist version this assessment is pinned to."""
    version = session.get(ChecklistVersion, assessment.checklist_version_id)
    assert version is not None  # foreign key
    return definition_for(version)


def answers_by_ref(session: Session, assessment: Assessment) -> dict[str, Answer]:
    rows = session.exec(
        select(ChecklistItem.ref, Answer)
        .join(Answer, Answer.item_id == ChecklistItem.id)
        .where(Answer.assessment_id == assessment.id)
    ).all()
    return {ref: answer for ref, answer in rows}


def item_ids(session: Session, version_id: int) -> dict[str, int]:
    rows = session.exec(
        select(ChecklistItem.ref, ChecklistItem.id).where(ChecklistItem.version_id == version_id)
    ).all()
    return dict(rows)


def live_score(session: Session, assessment: Assessment) -> rules.ScoreResult:
    """The rules module's result for the answers as they stand now."""
    answers = {ref: a.status for ref, a in answers_by_ref(session, assessment).items()}
    return rules.score(definition(session, assessment), answers)


# ------------------------------------------------------------------------------ creating


def create(
    session: Session,
    actor: User,
    *,
    subcontractor_id: int,
    checklist_version_id: int,
    auditor_ids: Iterable[int],
    reviewer_id: int | None,
    title: str | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    due_date: date | None = None,
) -> Assessment:
    """Create a draft assessment pinned to a published checklist version."""
    if actor.role not in ("admin", "auditor"):
        raise Forbidden("only auditors and admins create assessments")
    subcontractor = session.get(Subcontractor, subcontractor_id)
    if subcontractor is None:
        raise ServiceError(f"no subcontractor {subcontractor_id}", "subcontractor_id")
    version = session.get(ChecklistVersion, checklist_version_id)
    if version is None:
        raise ServiceError(f"no checklist version {checklist_version_id}", "checklist_version_id")
    auditors = sorted(set(auditor_ids))
    if not auditors:
        raise ServiceError("at least one auditor is required", "auditor_ids")
    people = {u.id: u for u in session.exec(select(User).where(User.id.in_(auditors))).all()}
    for user_id in auditors:
        person = people.get(user_id)
        if person is None or not person.active or person.role not in ("auditor", "admin"):
            raise ServiceError(f"user {user_id} is not an active auditor", "auditor_ids")
    if reviewer_id is not None:
        reviewer = session.get(User, reviewer_id)
        if reviewer is None or not reviewer.active or reviewer.role not in ("reviewer", "admin"):
            raise ServiceError(f"user {reviewer_id} is not an active reviewer", "reviewer_id")
        if reviewer_id in auditors:
            raise ServiceError("the reviewer cannot be one of the auditors", "reviewer_id")
    if period_start and period_end and period_end < period_start:
        raise ServiceError("the period ends before it starts", "period_end")
    assessment = Assessment(
        subcontractor_id=subcontractor.id,
        checklist_version_id=version.id,
        title=(title or f"{subcontractor.name} — {version.title_en} {version.version}")[:200],
        period_start=period_start,
        period_end=period_end,
        due_date=due_date,
        reviewer_id=reviewer_id,
        created_by_id=actor.id,
    )
    session.add(assessment)
    session.flush()
    for user_id in auditors:
        session.add(AssessmentAuditor(assessment_id=assessment.id, user_id=user_id))
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


# ------------------------------------------------------------------------------ answers


def _bump_revision(session: Session, assessment: Assessment, expected: int | None) -> None:
    """Atomically move the revision on, refusing a stale ``expected`` (compare-and-set)."""
    table = Assessment.__table__
    condition = table.c.id == assessment.id
    if expected is not None:
        condition = sa.and_(condition, table.c.revision == expected)
    result = session.execute(
        sa.update(table)
        .where(condition)
        .values(revision=table.c.revision + 1, updated_at=utcnow())
        .returning(table.c.revision)
    )
    row = result.first()
    if row is None:
        session.rollback()
        current = session.get(Assessment, assessment.id)
        session.refresh(current)
        raise StaleRevision(
            f"assessment {assessment.id} was changed by someone else (your copy is revision "
            f"{expected}, the saved one is {current.revision}); nothing was saved",
            "revision",
        )
    assessment.revision = row[0]


def save_answers(
    session: Session,
    actor: User,
    assessment: Assessment,
    inputs: Iterable[AnswerInput],
    expected_revision: int | None,
) -> Assessment:
    """Save answers all-or-nothing, refresh findings, and move the revision on.

    ``expected_revision`` must equal the stored revision (``None`` skips the check, for seeding
    and the command line only). Every answer is validated before anything is written.
    """
    require_edit(session, actor, assessment)
    checklist = definition(session, assessment)
    inputs = list(inputs)
    seen: set[str] = set()
    for entry in inputs:
        if entry.ref in seen:
            raise ServiceError(f"item {entry.ref} is answered twice in one request", entry.ref)
        seen.add(entry.ref)
        if entry.ref not in checklist.item_index():
            raise ServiceError(f"item {entry.ref} is not in this checklist version", entry.ref)
        item = checklist.item(entry.ref)
        if entry.status is not None and entry.status not in item.answers:
            raise ServiceError(
                f"item {entry.ref}: {entry.status!r} is not an allowed answer "
                f"(allowed: {', '.join(item.answers)})",
                entry.ref,
            )
        if len(entry.comment) > 10_000:
            raise ServiceError(f"item {entry.ref}: comment is over 10,000 characters", entry.ref)
    _bump_revision(session, assessment, expected_revision)
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
                assessment_id=assessment.id,
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
    if assessment.state == "draft":
        assessment.state = "in_progress"
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
                    assessment_id=assessment.id,
                    item_id=item_id,
                    severity=draft.severity,
                    title=draft.title,
                )
            )
        elif not finding.current or finding.severity != draft.severity:
            finding.current, finding.severity, finding.updated_at = True, draft.severity, now
            session.add(finding)
    for item_id, finding in by_item.items():
        if item_id not in drafts and finding.current:
            finding.current, finding.updated_at = False, now
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
    version = session.get(ChecklistVersion, assessment.checklist_version_id)
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


def submit(
    session: Session, actor: User, assessment: Assessment, expected_revision: int | None
) -> Assessment:
    """Submit for review: every item answered, every gap commented; stores the score snapshot."""
    require_edit(session, actor, assessment)
    checklist = definition(session, assessment)
    answers = answers_by_ref(session, assessment)
    problems = rules.submission_problems(
        checklist,
        {r: a.status for r, a in answers.items()},
        {r: a.comment for r, a in answers.items()},
    )
    if problems:
        raise NotReady(problems)
    if assessment.reviewer_id is None:
        raise ServiceError("assign a reviewer before submitting", "reviewer_id")
    _bump_revision(session, assessment, expected_revision)
    before = assessment.state
    result = rules.score(checklist, {r: a.status for r, a in answers.items()})
    assessment.state = "submitted"
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
        after={"state": "submitted", "score": result.score, "rating": result.rating},
    )
    webhooks.enqueue(session, "assessment.submitted", webhook_payload(session, assessment))
    return assessment


def _require_review(session: Session, actor: User, assessment: Assessment) -> None:
    if assessment.state != "submitted":
        raise Conflict(f"assessment {assessment.id} is {assessment.state}, not submitted")
    if not can_review(session, actor, assessment):
        raise Forbidden("only the assigned reviewer, who is not one of its auditors, may review")


def approve(
    session: Session,
    actor: User,
    assessment: Assessment,
    expected_revision: int | None,
    comment: str = "",
) -> Assessment:
    """Approve: freezes the assessment and stores the final score snapshot."""
    _require_review(session, actor, assessment)
    _bump_revision(session, assessment, expected_revision)
    result = live_score(session, assessment)
    assessment.state = "approved"
    assessment.approved_at = utcnow()
    assessment.review_comment = comment.strip() or None
    assessment.score_snapshot = _snapshot(result)
    session.add(assessment)
    events.record(
        session,
        actor,
        "assessment.approved",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={"state": "submitted"},
        after={"state": "approved", "score": result.score, "rating": result.rating},
    )
    webhooks.enqueue(session, "assessment.approved", webhook_payload(session, assessment))
    return assessment


def return_to_auditors(
    session: Session,
    actor: User,
    assessment: Assessment,
    expected_revision: int | None,
    comment: str,
) -> Assessment:
    """Return to the auditors with a comment saying what to change."""
    _require_review(session, actor, assessment)
    if not comment.strip():
        raise ServiceError("say what the auditors should change", "comment")
    _bump_revision(session, assessment, expected_revision)
    assessment.state = "returned"
    assessment.review_comment = comment.strip()
    session.add(assessment)
    events.record(
        session,
        actor,
        "assessment.returned",
        "assessment",
        assessment.id,
        assessment_id=assessment.id,
        before={"state": "submitted"},
        after={"state": "returned", "comment": comment.strip()},
    )
    webhooks.enqueue(session, "assessment.returned", webhook_payload(session, assessment))
    return assessment
