"""Changing an assessment's particulars and deleting unused drafts.

Kept apart from ``assessments`` (answers and workflow); the same compare-and-set on the
revision guards these writes, so a stale client changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, func, select

from ..models import Answer, Assessment, Evidence, User
from . import Conflict, Forbidden, ServiceError, events
from .assessments import StaleRevision, _bump_revision, auditor_ids, require_edit

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
    unknown = sorted(set(changes) - set(DETAIL_FIELDS))
    if unknown:
        raise ServiceError(f"{unknown[0]!r} cannot be changed here", unknown[0])
    merged = {f: getattr(assessment, f) for f in DETAIL_FIELDS} | changes
    title = (merged["title"] or "").strip()
    if not title:
        raise ServiceError("the title cannot be empty", "title")
    if len(title) > 200:
        raise ServiceError("the title is over 200 characters", "title")
    merged["title"] = title
    for key in ("due_date", "period_start", "period_end"):
        if merged[key] is not None and not isinstance(merged[key], date):
            raise ServiceError("must be a date", key)
    if (
        merged["period_start"]
        and merged["period_end"]
        and (merged["period_end"] < merged["period_start"])
    ):
        raise ServiceError("the period ends before it starts", "period_end")
    reviewer_id = merged["reviewer_id"]
    if reviewer_id is not None and reviewer_id != assessment.reviewer_id:
        reviewer = session.get(User, reviewer_id)
        if reviewer is None or not reviewer.active or reviewer.role not in ("reviewer", "admin"):
            raise ServiceError(f"user {reviewer_id} is not an active reviewer", "reviewer_id")
        if reviewer_id in auditor_ids(session, assessment):
            raise ServiceError("the reviewer cannot be one of the auditors", "reviewer_id")
    before = {f: getattr(assessment, f) for f in DETAIL_FIELDS}
    changed = [f for f in DETAIL_FIELDS if before[f] != merged[f]]
    _bump_revision(session, assessment, expected_revision)
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
    if actor.role != "admin" and not (
        actor.role == "auditor" and assessment.created_by_id == actor.id
    ):
        raise Forbidden("only the assessment's creator or an admin may delete it")
    if assessment.state != "draft":
        raise Conflict(
            f"assessment {assessment.id} is {assessment.state}: only drafts can be deleted"
        )
    answers = session.exec(
        select(func.count()).select_from(Answer).where(Answer.assessment_id == assessment.id)
    ).one()
    if answers:
        raise Conflict(f"assessment {assessment.id} has {answers} answer(s): it cannot be deleted")
    files = session.exec(
        select(func.count()).select_from(Evidence).where(Evidence.assessment_id == assessment.id)
    ).one()
    if files:
        raise Conflict(
            f"assessment {assessment.id} has {files} evidence file(s): it cannot be deleted"
        )
    table = Assessment.__table__
    condition = table.c.id == assessment.id
    if expected_revision is not None:
        condition = sa.and_(condition, table.c.revision == expected_revision)
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
    result = session.execute(sa.delete(table).where(condition))
    if result.rowcount != 1:
        session.rollback()
        raise StaleRevision(
            f"assessment {assessment.id} was changed by someone else (your copy is revision "
            f"{expected_revision}); nothing was deleted",
            "revision",
        )
    session.expunge(assessment)
