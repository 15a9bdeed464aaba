"""The audit schedule: each subcontractor's cadence, latest approval and next audit date.

A subcontractor is due for audit ``cadence_months`` after the approval of its latest approved
assessment; one never audited is due from its contract start (or the day it was recorded), so
it is usually due already. Dates are calendar dates in the application's time zone, which every
caller passes (``tz``): services never read the Flask app.

The "latest approval" of each subcontractor is one subquery (``_latest_approved``), used by
the directory, the audit schedule and the dashboard's rating counts alike.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from ...limits import CADENCE_MONTHS_MAX, CADENCE_MONTHS_MIN
from ...models import (
    Assessment,
    Checklist,
    ChecklistVersion,
    Subcontractor,
    UTCDateTime,
)
from ...policies import DEFAULT_CADENCE_MONTHS
from ...vocabulary import AssessmentState, Rating
from ..pages import last_change, text_in
from ..visibility import Scope

# ------------------------------------------------------------------------------ audit cadence


@dataclass(frozen=True)
class ScheduleRow:
    """A subcontractor's audit status: last approval, latest rating and when it is next due."""

    subcontractor: Subcontractor
    last_approved: date | None
    rating: str | None
    next_due: date
    overdue: bool
    parent_name: str | None = None
    score: float | None = None

    @property
    def cadence_months(self) -> int:
        """Months between audits for this subcontractor."""
        return self.subcontractor.cadence_months


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_audit_due(last_approved: date | None, start: date, cadence_months: int) -> date:
    """The next audit date: last approval + cadence, or ``start`` when never approved."""
    if last_approved is None:
        return start
    return add_months(last_approved, cadence_months)


def earliest_approval_due_on_or_after(cutoff: date, cadence_months: int) -> date:
    """The first approval date whose next audit falls on or after ``cutoff``.

    ``next_audit_due`` is monotonic in the approval date, so "due before cutoff" is exactly
    "approved before this date": that lets SQL filter on it without month arithmetic.
    """
    day = add_months(cutoff, -cadence_months) - timedelta(days=1)
    while add_months(day, cadence_months) >= cutoff:
        day -= timedelta(days=1)
    while add_months(day, cadence_months) < cutoff:
        day += timedelta(days=1)
    return day


def zone(tz: tzinfo | str) -> tzinfo:
    """The time zone for calendar dates, from a zone or its IANA name (``Asia/Tokyo``)."""
    return tz if isinstance(tz, tzinfo) else ZoneInfo(tz)


def today_in(tz: tzinfo | str) -> date:
    """Today's calendar date in the given zone."""
    return datetime.now(zone(tz)).date()


def local_date(moment: datetime, tz: tzinfo | str) -> date:
    """The calendar date of an (aware) instant in the given zone."""
    return moment.astimezone(zone(tz)).date()


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _latest_approved(within: Scope) -> Any:
    """Subquery: each subcontractor's latest approved assessment (one row each, by window).

    Only assessments ``within`` the reader's sight count: a rating is never shown from an
    assessment the reader may not see.
    """
    approved_at = col(Assessment.approved_at)
    ranked = (
        sa.select(
            col(Assessment.subcontractor_id).label("subcontractor_id"),
            approved_at.label("approved_at"),
            col(Assessment.score_snapshot)["rating"].as_string().label("rating"),
            col(Assessment.score_snapshot)["score"].as_float().label("score"),
            sa.func.row_number()
            .over(
                partition_by=col(Assessment.subcontractor_id),
                order_by=(approved_at.desc(), col(Assessment.id).desc()),
            )
            .label("recency"),
        )
        .where(
            col(Assessment.state) == AssessmentState.APPROVED,
            approved_at.is_not(None),
            within.assessments,
        )
        .subquery("ranked_approvals")
    )
    return (
        sa.select(ranked.c.subcontractor_id, ranked.c.approved_at, ranked.c.rating, ranked.c.score)
        .where(ranked.c.recency == 1)
        .subquery("latest_approval")
    )


def _cadence_expr() -> Any:
    by_tier = sa.case(
        *(
            (col(Subcontractor.tier) == tier, months)
            for tier, months in DEFAULT_CADENCE_MONTHS.items()
        ),
        else_=max(DEFAULT_CADENCE_MONTHS.values()),
    )
    return sa.func.coalesce(col(Subcontractor.audit_cadence_months), by_tier)


def _due_before(latest: Any, cutoff: date, tz: tzinfo) -> Any:
    """SQL condition: the subcontractor's next audit date is before ``cutoff``."""
    thresholds = sa.case(
        {
            months: sa.literal(
                _midnight(earliest_approval_due_on_or_after(cutoff, months), tz), UTCDateTime()
            )
            for months in range(CADENCE_MONTHS_MIN, CADENCE_MONTHS_MAX + 1)
        },
        value=_cadence_expr(),
    )
    never = latest.c.approved_at.is_(None)
    contract_start = col(Subcontractor.contract_start)
    return sa.or_(
        sa.and_(latest.c.approved_at.is_not(None), latest.c.approved_at < thresholds),
        sa.and_(never, contract_start.is_not(None), contract_start < cutoff),
        sa.and_(
            never,
            contract_start.is_(None),
            col(Subcontractor.created_at) < sa.literal(_midnight(cutoff, tz), UTCDateTime()),
        ),
    )


@dataclass(frozen=True)
class DirectoryFilters:
    """Validated filters of the subcontractor list; None means "no filter"."""

    q: str | None = None
    tier: int | None = None
    country: str | None = None
    rating: str | None = None  # "A".."E", or "none" for never rated
    overdue: bool = False
    # its record changed (or was created), or an assessment of it was approved, since then
    updated_since: datetime | None = None


#: How the directory may be sorted (a leading ``-`` sorts descending); ties are broken by id.
SORTS = ("name", "id", "tier", "created_at", "updated_at")


def directory_statement(
    filters: DirectoryFilters,
    today: date,
    tz: tzinfo | str,
    *,
    within: Scope,
    due_before: date | None = None,
    sort: str = "name",
) -> Any:
    """One SELECT of (Subcontractor, parent name, last approval time, rating, score).

    Only subcontractors ``within`` the reader's sight, rated by the assessments within it.
    Sorted by ``sort`` (one of ``SORTS``, optionally with a leading ``-``), then by id.
    ``due_before`` keeps only subcontractors whose next audit date is before that day.
    """
    return _listing(filters, today, tz, within, due_before, sort).where(within.subcontractors)


def _listing(
    filters: DirectoryFilters,
    today: date,
    tz: tzinfo | str,
    within: Scope,
    due_before: date | None = None,
    sort: str = "name",
) -> Any:
    tz = zone(tz)
    latest = _latest_approved(within)
    parent = aliased(Subcontractor)
    key = sort.lstrip("-")
    column = last_change(Subcontractor) if key == "updated_at" else col(getattr(Subcontractor, key))
    statement = (
        sa.select(
            Subcontractor,
            col(parent.name).label("parent_name"),
            latest.c.approved_at,
            latest.c.rating,
            latest.c.score,
        )
        .outerjoin(parent, col(parent.id) == Subcontractor.parent_id)
        .outerjoin(latest, latest.c.subcontractor_id == Subcontractor.id)
        .order_by(column.desc() if sort.startswith("-") else column, col(Subcontractor.id))
    )
    if filters.q:
        statement = statement.where(text_in(filters.q, Subcontractor.name, Subcontractor.services))
    if filters.tier is not None:
        statement = statement.where(col(Subcontractor.tier) == filters.tier)
    if filters.country:
        statement = statement.where(col(Subcontractor.country) == filters.country)
    if filters.rating == "none":
        statement = statement.where(latest.c.rating.is_(None))
    elif filters.rating:
        statement = statement.where(latest.c.rating == filters.rating)
    if filters.overdue:
        statement = statement.where(_due_before(latest, today, tz))
    if due_before is not None:
        statement = statement.where(_due_before(latest, due_before, tz))
    if filters.updated_since is not None:
        since = sa.literal(filters.updated_since, UTCDateTime())
        statement = statement.where(
            sa.or_(last_change(Subcontractor) >= since, latest.c.approved_at >= since)
        )
    return statement


def schedule_row(
    subcontractor: Subcontractor,
    approved_at: datetime | None,
    rating: str | None,
    today: date,
    tz: tzinfo | str,
    *,
    parent_name: str | None = None,
    score: float | None = None,
) -> ScheduleRow:
    """Build a subcontractor's audit status from its latest approval (pure: no queries)."""
    tz = zone(tz)
    last = local_date(approved_at, tz) if approved_at else None
    start = subcontractor.contract_start or local_date(subcontractor.created_at, tz)
    due = next_audit_due(last, start, subcontractor.cadence_months)
    return ScheduleRow(
        subcontractor=subcontractor,
        last_approved=last,
        rating=rating if last else None,
        next_due=due,
        overdue=due < today,
        parent_name=parent_name,
        score=score if last else None,
    )


def rows_from(results: Iterable[Any], today: date, tz: tzinfo | str) -> list[ScheduleRow]:
    """Turn rows of ``directory_statement`` into ``ScheduleRow`` objects."""
    tz = zone(tz)
    return [
        schedule_row(sub, approved_at, rating, today, tz, parent_name=parent_name, score=score)
        for sub, parent_name, approved_at, rating, score in results
    ]


def audit_schedule(
    session: Session,
    today: date,
    *,
    tz: tzinfo | str,
    within_days: int = 30,
    limit: int | None = None,
    within: Scope,
) -> list[ScheduleRow]:
    """Subcontractors overdue or due within ``within_days``: overdue first, then by due date.

    One query. ``tz`` is the zone that turns approval times into dates; pass ``today`` in that
    zone too.
    """
    tz = zone(tz)
    statement = directory_statement(
        DirectoryFilters(),
        today,
        tz,
        within=within,
        due_before=today + timedelta(days=within_days + 1),
    )
    rows = rows_from(session.exec(statement).all(), today, tz)
    rows.sort(key=lambda r: (not r.overdue, r.next_due, r.subcontractor.name))
    return rows[:limit] if limit is not None else rows


def status(
    session: Session,
    subcontractor: Subcontractor,
    today: date,
    tz: tzinfo | str,
    *,
    within: Scope,
) -> ScheduleRow:
    """One subcontractor's audit status (latest approval, rating, next audit), in one query.

    The caller has checked the subcontractor itself; ``within`` limits the approvals it counts.
    """
    row = session.exec(
        _listing(DirectoryFilters(), today, tz, within).where(Subcontractor.id == subcontractor.id)
    ).one()
    return rows_from([row], today, tz)[0]


def rating_counts(session: Session, within: Scope) -> dict[str, int]:
    """How many subcontractors hold each rating, by their latest approved assessment in sight."""
    latest = _latest_approved(within)
    rows = session.execute(
        sa.select(latest.c.rating, sa.func.count()).group_by(latest.c.rating)
    ).all()
    counts = dict.fromkeys((r.value for r in Rating), 0)
    counts.update({rating: n for rating, n in rows if rating in counts})
    return counts


# ------------------------------------------------------------------------------ history


@dataclass(frozen=True)
class HistoryRow:
    """One assessment of a subcontractor with the checklist version it was pinned to."""

    assessment: Assessment
    checklist_slug: str
    checklist_title: str
    version: str

    @property
    def rating(self) -> str | None:
        """The rating stored in the score snapshot (at submission or approval)."""
        return (self.assessment.score_snapshot or {}).get("rating")

    @property
    def score(self) -> float | None:
        """The score stored in the score snapshot."""
        return (self.assessment.score_snapshot or {}).get("score")


def history(session: Session, subcontractor_id: int, within: Scope) -> list[HistoryRow]:
    """Every assessment of the subcontractor ``within`` sight, newest first, in one query."""
    rows = session.exec(
        select(Assessment, Checklist.slug, ChecklistVersion.title_en, ChecklistVersion.version)
        .join(ChecklistVersion, col(ChecklistVersion.id) == Assessment.checklist_version_id)
        .join(Checklist, col(Checklist.id) == ChecklistVersion.checklist_id)
        .where(Assessment.subcontractor_id == subcontractor_id, within.assessments)
        .order_by(
            sa.func.coalesce(col(Assessment.approved_at), col(Assessment.created_at)).desc(),
            col(Assessment.id).desc(),
        )
    ).all()
    return [HistoryRow(a, slug, title, version) for a, slug, title, version in rows]
