"""Who reads what: the one place that scopes every read of assessments and subcontractors.

The setting ``KANSA_VISIBILITY`` travels with the database session (``session.info``, set by
whoever opens the session: the app for each request, ``bind`` for the command line and tests);
a session without it reads as ``organisation``. ``policies.reach`` says how far a person's
reading reaches; ``scope`` turns that into SQL conditions that every list, search, count,
export and report adds to its SELECT, and ``require_assessment`` / ``require_subcontractor``
refuse one row. Something a person may not see is answered as if it did not exist (404, never
403), so that its existence does not leak.

Everything else (findings, evidence, answers, events, reports) belongs to an assessment and is
visible exactly when its assessment is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..models import Assessment, AssessmentAuditor, Subcontractor, User, ViewerGrant, id_of
from ..vocabulary import Reach, Visibility
from . import Forbidden, NotFound, Problems, events

#: the key of ``session.info`` that holds the visibility setting
INFO_KEY = "visibility"


def bind(session: Session, visibility: str) -> Session:
    """Make ``session`` read under ``visibility`` (a ``Visibility``); returns the session."""
    session.info[INFO_KEY] = Visibility(visibility)
    return session


def setting(session: Session) -> Visibility:
    """The visibility the session reads under (``organisation`` unless bound otherwise)."""
    return Visibility(session.info.get(INFO_KEY) or Visibility.ORGANISATION)


def assigned_to(user_id: int | None) -> Any:
    """SQL condition: the assessment is audited or reviewed by this person."""
    audited = select(AssessmentAuditor.assessment_id).where(AssessmentAuditor.user_id == user_id)
    return sa.or_(col(Assessment.id).in_(audited), col(Assessment.reviewer_id) == user_id)


def granted_ids(user_id: int | None) -> Any:
    """SELECT of the subcontractor ids granted to a viewer, with every one below them.

    A grant covers the subcontractor and its whole re-entrustment chain below it: whoever may
    read about a subcontractor may read about the parties it entrusted the work to.
    """
    below = sa.orm.aliased(Subcontractor)
    tree = (
        sa.select(col(ViewerGrant.subcontractor_id).label("id"))
        .where(col(ViewerGrant.user_id) == user_id)
        .cte("granted_tree", recursive=True)
    )
    # UNION (not UNION ALL): overlapping grants meet once, and the walk always ends
    tree = tree.union(sa.select(col(below.id)).where(col(below.parent_id) == tree.c.id))
    return sa.select(tree.c.id)


@dataclass(frozen=True)
class Scope:
    """What one person may read, as SQL conditions on ``Assessment`` and on ``Subcontractor``."""

    reach: Reach
    assessments: Any  # condition on Assessment's columns
    subcontractors: Any  # condition on Subcontractor's columns

    @property
    def everything(self) -> bool:
        return self.reach == Reach.EVERYTHING

    def events(self, assessment_id: Any) -> Any:
        """Condition on an event's ``assessment_id``: events of assessments in reach only."""
        if self.everything:
            return sa.true()
        return col(assessment_id).in_(sa.select(col(Assessment.id)).where(self.assessments))


#: no limit: for reads made after the row itself was checked (``require_assessment``)
UNLIMITED = Scope(Reach.EVERYTHING, sa.true(), sa.true())


def scope(session: Session, actor: User) -> Scope:
    """The conditions that keep every read of ``actor`` within what they may see."""
    reach = policies.reach(actor, setting(session))
    if reach == Reach.EVERYTHING:
        return UNLIMITED
    if reach == Reach.ASSIGNMENTS:
        mine = assigned_to(actor.id)
        companies = sa.select(col(Assessment.subcontractor_id)).where(mine)
        return Scope(reach, mine, col(Subcontractor.id).in_(companies))
    granted = granted_ids(actor.id)
    return Scope(
        reach,
        col(Assessment.subcontractor_id).in_(granted),
        col(Subcontractor.id).in_(granted),
    )


def sees_assessment(session: Session, actor: User, assessment: Assessment) -> bool:
    """Whether ``actor`` may read this assessment under the session's visibility."""
    within = scope(session, actor)
    if within.everything:
        return True
    found = session.exec(
        select(Assessment.id).where(Assessment.id == assessment.id, within.assessments)
    ).first()
    return found is not None


def sees_subcontractor(session: Session, actor: User, subcontractor_id: int) -> bool:
    """Whether ``actor`` may read this subcontractor under the session's visibility."""
    within = scope(session, actor)
    if within.everything:
        return True
    found = session.exec(
        select(Subcontractor.id).where(Subcontractor.id == subcontractor_id, within.subcontractors)
    ).first()
    return found is not None


def require_assessment(session: Session, actor: User, assessment: Assessment) -> None:
    """Refuse an assessment out of ``actor``'s sight as if it did not exist (404)."""
    if not sees_assessment(session, actor, assessment):
        raise NotFound(f"no assessment {assessment.id}")


def require_subcontractor(session: Session, actor: User, subcontractor_id: int) -> None:
    """Refuse a subcontractor out of ``actor``'s sight as if it did not exist (404)."""
    if not sees_subcontractor(session, actor, subcontractor_id):
        raise NotFound(f"no subcontractor {subcontractor_id}")


# ------------------------------------------------------------------------------ viewer grants


def _require_granter(actor: User) -> None:
    if not policies.may_grant_visibility(actor):
        raise Forbidden("only admins grant viewers access to a subcontractor")


def viewers_of(session: Session, subcontractor_id: int) -> list[User]:
    """The viewers granted this subcontractor itself (grants on a parent are not listed)."""
    return list(
        session.exec(
            select(User)
            .join(ViewerGrant, col(ViewerGrant.user_id) == User.id)
            .where(ViewerGrant.subcontractor_id == subcontractor_id)
            .order_by(col(User.name), col(User.id))
        ).all()
    )


def grants(session: Session, actor: User, subcontractor_id: int) -> list[ViewerGrant]:
    """The grants on one subcontractor (admins), in the order they were given."""
    _require_granter(actor)
    if session.get(Subcontractor, subcontractor_id) is None:
        raise NotFound(f"no subcontractor {subcontractor_id}")
    return list(
        session.exec(
            select(ViewerGrant)
            .where(ViewerGrant.subcontractor_id == subcontractor_id)
            .order_by(col(ViewerGrant.granted_at), col(ViewerGrant.user_id))
        ).all()
    )


def grant_of(session: Session, actor: User, subcontractor_id: int, user_id: int) -> ViewerGrant:
    """One viewer's grant on one subcontractor (admins); 404 when there is none."""
    _require_granter(actor)
    found = session.get(ViewerGrant, (user_id, subcontractor_id))
    if found is None:
        raise NotFound(f"user {user_id} holds no grant on subcontractor {subcontractor_id}")
    return found


def grantable(session: Session, subcontractor_id: int) -> list[User]:
    """Active viewers not yet granted this subcontractor (the choices of the grant form)."""
    granted = select(ViewerGrant.user_id).where(ViewerGrant.subcontractor_id == subcontractor_id)
    people = session.exec(
        select(User)
        .where(User.active, col(User.id).not_in(granted))
        .order_by(col(User.name), col(User.id))
    ).all()
    return [person for person in people if policies.may_receive_grant(person)]


def grant(session: Session, actor: User, subcontractor_id: int, user_id: Any) -> ViewerGrant:
    """Let a viewer read a subcontractor and its chain below it; recorded in the audit trail.

    Granting twice is no change (the first grant is returned and nothing is recorded again).
    """
    _require_granter(actor)
    subcontractor = session.get(Subcontractor, subcontractor_id)
    if subcontractor is None:
        raise NotFound(f"no subcontractor {subcontractor_id}")
    problems = Problems()
    person = session.get(User, user_id) if isinstance(user_id, int) else None
    if person is None:
        problems.add("user_id", f"no user {user_id}")
    elif not policies.may_receive_grant(person):
        problems.add(
            "user_id",
            f"{person.name} is {person.role}: grants are for viewers (auditors and reviewers "
            "read what they are assigned to, admins read everything)",
        )
    problems.check()
    assert person is not None
    existing = session.get(ViewerGrant, (id_of(person), subcontractor_id))
    if existing is not None:
        return existing
    made = ViewerGrant(
        user_id=id_of(person), subcontractor_id=subcontractor_id, granted_by_id=actor.id
    )
    session.add(made)
    session.flush()
    events.record(
        session,
        actor,
        "subcontractor.viewer_granted",
        "subcontractor",
        subcontractor_id,
        after={"user_id": person.id, "email": person.email},
    )
    return made


def revoke(session: Session, actor: User, subcontractor_id: int, user_id: int) -> None:
    """Take a viewer's grant on a subcontractor back; 404 when there is no such grant."""
    existing = grant_of(session, actor, subcontractor_id, user_id)
    person = session.get(User, user_id)
    session.delete(existing)
    session.flush()
    events.record(
        session,
        actor,
        "subcontractor.viewer_revoked",
        "subcontractor",
        subcontractor_id,
        before={"user_id": user_id, "email": person.email if person else None},
    )
