"""The read side of assessments: the assessments list, "mine", and the dashboard.

The pages and the API list assessments through ``search``; "mine" (assessments a person audits
or reviews) is one condition, ``mine``, used by the list filter, the API filter and the
dashboard alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..models import (
    Assessment,
    AssessmentAuditor,
    AuditEvent,
    Checklist,
    ChecklistVersion,
    Subcontractor,
    User,
    table_of,
)
from ..vocabulary import AssessmentState
from . import events, visibility
from .pages import last_change, text_in
from .subcontractors import schedule


def mine(user_id: int | None) -> Any:
    """SQL condition: the assessment is audited or reviewed by this person."""
    return visibility.assigned_to(user_id)


@dataclass(frozen=True)
class AssessmentFilters:
    """Filters of an assessments list; None (or False) means "no filter"."""

    state: str | None = None
    subcontractor_id: int | None = None
    checklist: str | None = None  # a checklist slug
    checklist_version_id: int | None = None
    due_before: date | None = None  # due on or before
    due_after: date | None = None  # due on or after
    q: str | None = None  # text in the title or the subcontractor's name
    mine_of: int | None = None  # only those this user audits or reviews
    updated_since: datetime | None = None  # changed (or created) at or after this moment


#: How an assessments list may be sorted (a leading ``-`` sorts descending).
SORTS = ("due_date", "id", "created_at", "title", "updated_at")
#: The sort keys that may be empty (sorted last); ``updated_at`` sorts by ``last_change``,
#: which falls back on the creation time and is never empty.
_NULLABLE_SORTS = frozenset(
    key for key in SORTS if key in table_of(Assessment).c and table_of(Assessment).c[key].nullable
) - {"updated_at"}


def search(filters: AssessmentFilters, sort: str = "due_date", *, within: visibility.Scope) -> Any:
    """A SELECT of (Assessment, subcontractor name, checklist slug, checklist title, version).

    Only assessments ``within`` the reader's sight (``visibility.scope``). Sorted by ``sort``
    (one of ``SORTS``, optionally with a leading ``-``), undated assessments
    last, ties broken by id so that pages are stable.
    """
    statement = (
        sa.select(
            Assessment,
            col(Subcontractor.name),
            col(Checklist.slug),
            col(ChecklistVersion.title_en),
            col(ChecklistVersion.version),
        )
        .join(Subcontractor, col(Subcontractor.id) == Assessment.subcontractor_id)
        .join(ChecklistVersion, col(ChecklistVersion.id) == Assessment.checklist_version_id)
        .join(Checklist, col(Checklist.id) == ChecklistVersion.checklist_id)
        .where(within.assessments)
    )
    if filters.state is not None:
        statement = statement.where(col(Assessment.state) == filters.state)
    if filters.subcontractor_id is not None:
        statement = statement.where(col(Assessment.subcontractor_id) == filters.subcontractor_id)
    if filters.checklist is not None:
        statement = statement.where(col(Checklist.slug) == filters.checklist)
    if filters.checklist_version_id is not None:
        statement = statement.where(
            col(Assessment.checklist_version_id) == filters.checklist_version_id
        )
    due = col(Assessment.due_date)
    if filters.due_before is not None:
        statement = statement.where(due <= filters.due_before)
    if filters.due_after is not None:
        statement = statement.where(due >= filters.due_after)
    if filters.q:
        statement = statement.where(text_in(filters.q, Assessment.title, Subcontractor.name))
    if filters.mine_of is not None:
        statement = statement.where(mine(filters.mine_of))
    if filters.updated_since is not None:
        statement = statement.where(last_change(Assessment) >= filters.updated_since)
    key = sort.lstrip("-")
    column = last_change(Assessment) if key == "updated_at" else col(getattr(Assessment, key))
    descending = sort.startswith("-")
    order = [column.desc() if descending else column]
    if key in _NULLABLE_SORTS:
        order.insert(0, column.is_(None))  # undated last, on SQLite and PostgreSQL alike
    if key != "id":
        order.append(col(Assessment.id))  # ties broken by id: pages are stable
    # sorting by id alone stays a bare ORDER BY id, which the primary key's index serves
    return statement.order_by(*order)


def auditors_by_assessment(session: Session, ids: Iterable[int]) -> dict[int, list[int]]:
    """The auditor ids of each of these assessments, in one query."""
    wanted = list(ids)
    found: dict[int, list[int]] = {i: [] for i in wanted}
    if wanted:
        rows = session.exec(
            select(AssessmentAuditor.assessment_id, AssessmentAuditor.user_id)
            .where(col(AssessmentAuditor.assessment_id).in_(wanted))
            .order_by(col(AssessmentAuditor.user_id))
        ).all()
        for assessment_id, user_id in rows:
            found[assessment_id].append(user_id)
    return found


# ------------------------------------------------------------------------------ the dashboard

#: How many open assessments the dashboard lists, and how far ahead it looks for audits due.
OPEN_WORK_LIMIT = 50
SCHEDULE_DAYS = 60
SCHEDULE_LIMIT = 15
RECENT_EVENTS = 12


@dataclass(frozen=True)
class WorkItem:
    """An open assessment on someone's dashboard."""

    assessment: Assessment
    subcontractor_name: str
    overdue: bool


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows: my open work, ratings, audits due and recent activity."""

    open_work: list[WorkItem]
    ratings: dict[str, int]
    schedule: list[schedule.ScheduleRow]
    events: list[AuditEvent]
    today: date
    by_state: dict[str, list[WorkItem]] = field(default_factory=dict)

    @property
    def overdue(self) -> list[WorkItem]:
        return [item for item in self.open_work if item.overdue]


def open_work(session: Session, user: User, today: date) -> list[WorkItem]:
    """Open assessments the person audits or reviews: by due date, undated last."""
    due = col(Assessment.due_date)
    rows = session.exec(
        select(Assessment, Subcontractor.name)
        .join(Subcontractor, col(Subcontractor.id) == Assessment.subcontractor_id)
        .where(
            Assessment.state != AssessmentState.APPROVED,
            mine(user.id),
            visibility.scope(session, user).assessments,
        )
        .order_by(due.is_(None), due, col(Assessment.id))
        .limit(OPEN_WORK_LIMIT)
    ).all()
    return [WorkItem(a, name, policies.is_overdue(a.due_date, a.state, today)) for a, name in rows]


def dashboard(session: Session, user: User, today: date, tz: tzinfo | str) -> Dashboard:
    """The dashboard of ``user`` on ``today`` (a date in ``tz``), in a fixed number of queries.

    Every count and list on it is limited to what ``user`` may see (``visibility.scope``).
    """
    within = visibility.scope(session, user)
    work = open_work(session, user, today)
    by_state: dict[str, list[WorkItem]] = {
        state.value: [] for state in AssessmentState if policies.is_open(state)
    }
    for item in work:
        by_state[item.assessment.state].append(item)
    return Dashboard(
        open_work=work,
        ratings=schedule.rating_counts(session, within),
        schedule=schedule.audit_schedule(
            session, today, tz=tz, within_days=SCHEDULE_DAYS, limit=SCHEDULE_LIMIT, within=within
        ),
        events=events.recent(session, RECENT_EVENTS, within.events(AuditEvent.assessment_id)),
        today=today,
        by_state=by_state,
    )
