"""Deleting a subcontractor recorded by mistake: only one with no history and no chain below."""

from __future__ import annotations

from sqlmodel import Session, func, select

from ..models import Assessment, Subcontractor, User
from . import Conflict, Forbidden, events
from .subcontractors import FIELDS


def delete(session: Session, actor: User, subcontractor: Subcontractor) -> None:
    """Delete a subcontractor that no assessment and no other subcontractor refers to (admins)."""
    if actor.role != "admin":
        raise Forbidden("only admins delete subcontractors")
    assessments = session.exec(
        select(func.count())
        .select_from(Assessment)
        .where(Assessment.subcontractor_id == subcontractor.id)
    ).one()
    if assessments:
        raise Conflict(
            f"{subcontractor.name} has {assessments} assessment(s): its history is kept, "
            "so it cannot be deleted"
        )
    children = session.exec(
        select(func.count())
        .select_from(Subcontractor)
        .where(Subcontractor.parent_id == subcontractor.id)
    ).one()
    if children:
        raise Conflict(
            f"{subcontractor.name} entrusts work to {children} other subcontractor(s): "
            "change their parent first"
        )
    events.record(
        session,
        actor,
        "subcontractor.deleted",
        "subcontractor",
        subcontractor.id,
        before={f: getattr(subcontractor, f) for f in FIELDS},
    )
    session.delete(subcontractor)
    session.flush()
