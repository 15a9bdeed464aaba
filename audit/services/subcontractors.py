"""Subcontractors: validation, the re-entrustment chain and audit cadence."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from ..models import (
    DEFAULT_CADENCE_MONTHS,
    TIERS,
    Assessment,
    Checklist,
    ChecklistVersion,
    Subcontractor,
    User,
    UTCDateTime,
    utcnow,
)
from . import Conflict, Forbidden, NotFound, ServiceError, events

COUNTRY = re.compile(r"^[A-Z]{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_CADENCE = 60  # months; the table's cadence_range check
FIELDS = (
    "name",
    "country",
    "services",
    "data_categories",
    "tier",
    "parent_id",
    "contract_start",
    "contract_end",
    "audit_cadence_months",
    "contact_email",
    "notes",
)


def _clean(session: Session, data: dict[str, Any], current: Subcontractor | None) -> dict:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ServiceError(f"unknown field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    merged = {f: getattr(current, f) for f in FIELDS} if current else {}
    merged.update(data)
    name = (merged.get("name") or "").strip()
    if not name:
        raise ServiceError("the legal name is required", "name")
    if len(name) > 200:
        raise ServiceError("the legal name is over 200 characters", "name")
    clash = session.exec(select(Subcontractor.id).where(Subcontractor.name == name)).first()
    if clash is not None and (current is None or clash != current.id):
        raise Conflict(f"a subcontractor named {name!r} already exists", "name")
    country = (merged.get("country") or "").strip().upper()
    if not COUNTRY.match(country):
        raise ServiceError("country must be a two-letter ISO 3166 code such as JP", "country")
    tier = merged.get("tier")
    if tier not in TIERS:
        raise ServiceError("tier must be 1, 2 or 3", "tier")
    categories = merged.get("data_categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ServiceError("data categories must be a list of texts", "data_categories")
    categories = [c.strip() for c in categories if c.strip()]
    start, end = merged.get("contract_start"), merged.get("contract_end")
    for key, value in (("contract_start", start), ("contract_end", end)):
        if value is not None and not isinstance(value, date):
            raise ServiceError("must be a date", key)
    if start and end and end < start:
        raise ServiceError("the contract ends before it starts", "contract_end")
    cadence = merged.get("audit_cadence_months")
    if cadence is not None and (not isinstance(cadence, int) or not 1 <= cadence <= 60):
        raise ServiceError("audit cadence must be 1 to 60 months", "audit_cadence_months")
    email = (merged.get("contact_email") or "").strip() or None
    if email and not EMAIL.match(email):
        raise ServiceError(f"{email!r} is not a valid e-mail address", "contact_email")
    parent_id = merged.get("parent_id")
    if parent_id is not None:
        parent = session.get(Subcontractor, parent_id)
        if parent is None:
            raise ServiceError(f"no subcontractor {parent_id}", "parent_id")
        if current is not None and current.id in ancestor_ids(session, parent) | {parent.id}:
            raise ServiceError("that parent would make the chain a loop", "parent_id")
    return {
        **merged,
        "name": name,
        "country": country,
        "data_categories": categories,
        "contact_email": email,
        "services": (merged.get("services") or "").strip(),
        "notes": (merged.get("notes") or "").strip(),
    }


def ancestor_ids(session: Session, subcontractor: Subcontractor) -> set[int]:
    """Ids of every party above this one in its re-entrustment chain."""
    seen: set[int] = set()
    parent_id = subcontractor.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent_id = session.exec(
            select(Subcontractor.parent_id).where(Subcontractor.id == parent_id)
        ).first()
    return seen


def create(session: Session, actor: User, data: dict[str, Any]) -> Subcontractor:
    """Create a subcontractor after validating every field."""
    if actor.role not in ("admin", "auditor"):
        raise Forbidden("only auditors and admins manage subcontractors")
    clean = _clean(session, data, None)
    subcontractor = Subcontractor(**clean)
    session.add(subcontractor)
    session.flush()
    events.record(
        session,
        actor,
        "subcontractor.created",
        "subcontractor",
        subcontractor.id,
        after=_public(subcontractor),
    )
    return subcontractor


def update(
    session: Session, actor: User, subcontractor: Subcontractor, data: dict[str, Any]
) -> Subcontractor:
    """Change fields of a subcontractor after validating the result as a whole."""
    if actor.role not in ("admin", "auditor"):
        raise Forbidden("only auditors and admins manage subcontractors")
    before = _public(subcontractor)
    clean = _clean(session, data, subcontractor)
    for key, value in clean.items():
        setattr(subcontractor, key, value)
    subcontractor.updated_at = utcnow()
    session.add(subcontractor)
    session.flush()
    after = _public(subcontractor)
    changed = {k for k in after if before.get(k) != after.get(k)}
    if changed:
        events.record(
            session,
            actor,
            "subcontractor.updated",
            "subcontractor",
            subcontractor.id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return subcontractor


def _public(subcontractor: Subcontractor) -> dict[str, Any]:
    return {f: getattr(subcontractor, f) for f in FIELDS}


# ------------------------------------------------------------------------------ audit cadence
#
# A subcontractor is due for audit ``cadence_months`` after the approval of its latest approved
# assessment; one never audited is due from its contract start (or the day it was recorded), so
# it is usually due already. Dates are calendar dates in the application's time zone.


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


def zone(tz: tzinfo | str | None = None) -> tzinfo:
    """The time zone for calendar dates: ``tz``, else the app's TIMEZONE, else UTC."""
    if isinstance(tz, tzinfo):
        return tz
    if tz is None:
        from flask import current_app, has_app_context

        tz = current_app.config.get("TIMEZONE") if has_app_context() else None
    return ZoneInfo(tz) if tz else UTC


def local_date(moment: datetime, tz: tzinfo | str | None = None) -> date:
    """The calendar date of an (aware) instant in the given zone."""
    return moment.astimezone(zone(tz)).date()


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _latest_approved() -> Any:
    """Subquery: each subcontractor's latest approved assessment (one row each, by window)."""
    ranked = (
        sa.select(
            Assessment.subcontractor_id.label("subcontractor_id"),
            Assessment.approved_at.label("approved_at"),
            Assessment.score_snapshot["rating"].as_string().label("rating"),
            Assessment.score_snapshot["score"].as_float().label("score"),
            sa.func.row_number()
            .over(
                partition_by=Assessment.subcontractor_id,
                order_by=(Assessment.approved_at.desc(), Assessment.id.desc()),
            )
            .label("recency"),
        )
        .where(Assessment.state == "approved", Assessment.approved_at.is_not(None))
        .subquery("ranked_approvals")
    )
    return (
        sa.select(ranked.c.subcontractor_id, ranked.c.approved_at, ranked.c.rating, ranked.c.score)
        .where(ranked.c.recency == 1)
        .subquery("latest_approval")
    )


def _cadence_expr() -> Any:
    by_tier = sa.case(
        *((Subcontractor.tier == tier, months) for tier, months in DEFAULT_CADENCE_MONTHS.items()),
        else_=max(DEFAULT_CADENCE_MONTHS.values()),
    )
    return sa.func.coalesce(Subcontractor.audit_cadence_months, by_tier)


def _due_before(latest: Any, cutoff: date, tz: tzinfo) -> Any:
    """SQL condition: the subcontractor's next audit date is before ``cutoff``."""
    thresholds = sa.case(
        {
            months: sa.literal(
                _midnight(earliest_approval_due_on_or_after(cutoff, months), tz), UTCDateTime()
            )
            for months in range(1, MAX_CADENCE + 1)
        },
        value=_cadence_expr(),
    )
    never = latest.c.approved_at.is_(None)
    return sa.or_(
        sa.and_(latest.c.approved_at.is_not(None), latest.c.approved_at < thresholds),
        sa.and_(
            never, Subcontractor.contract_start.is_not(None), Subcontractor.contract_start < cutoff
        ),
        sa.and_(
            never,
            Subcontractor.contract_start.is_(None),
            Subcontractor.created_at < sa.literal(_midnight(cutoff, tz), UTCDateTime()),
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


def directory_statement(
    filters: DirectoryFilters,
    today: date,
    tz: tzinfo | str | None = None,
    *,
    due_before: date | None = None,
) -> Any:
    """One SELECT of (Subcontractor, parent name, last approval time, rating, score), by name.

    ``due_before`` keeps only subcontractors whose next audit date is before that day.
    """
    tz = zone(tz)
    latest = _latest_approved()
    parent = aliased(Subcontractor)
    statement = (
        select(
            Subcontractor,
            parent.name.label("parent_name"),
            latest.c.approved_at,
            latest.c.rating,
            latest.c.score,
        )
        .outerjoin(parent, parent.id == Subcontractor.parent_id)
        .outerjoin(latest, latest.c.subcontractor_id == Subcontractor.id)
        .order_by(Subcontractor.name, Subcontractor.id)
    )
    if filters.q:
        statement = statement.where(
            sa.or_(
                Subcontractor.name.icontains(filters.q, autoescape=True),
                Subcontractor.services.icontains(filters.q, autoescape=True),
            )
        )
    if filters.tier is not None:
        statement = statement.where(Subcontractor.tier == filters.tier)
    if filters.country:
        statement = statement.where(Subcontractor.country == filters.country)
    if filters.rating == "none":
        statement = statement.where(latest.c.rating.is_(None))
    elif filters.rating:
        statement = statement.where(latest.c.rating == filters.rating)
    if filters.overdue:
        statement = statement.where(_due_before(latest, today, tz))
    if due_before is not None:
        statement = statement.where(_due_before(latest, due_before, tz))
    return statement


def schedule_row(
    subcontractor: Subcontractor,
    approved_at: datetime | None,
    rating: str | None,
    today: date,
    tz: tzinfo | str | None = None,
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


def rows_from(
    results: Iterable[Any], today: date, tz: tzinfo | str | None = None
) -> list[ScheduleRow]:
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
    within_days: int = 30,
    limit: int | None = None,
    tz: tzinfo | str | None = None,
) -> list[ScheduleRow]:
    """Subcontractors overdue or due within ``within_days``: overdue first, then by due date.

    One query. ``tz`` is the zone that turns approval times into dates (default: the app's
    TIMEZONE inside an app context, else UTC); pass ``today`` in that zone too.
    """
    tz = zone(tz)
    statement = directory_statement(
        DirectoryFilters(), today, tz, due_before=today + timedelta(days=within_days + 1)
    )
    rows = rows_from(session.exec(statement).all(), today, tz)
    rows.sort(key=lambda r: (not r.overdue, r.next_due, r.subcontractor.name))
    return rows[:limit] if limit is not None else rows


def countries(session: Session) -> list[str]:
    """Country codes in use, for the list filter."""
    return list(
        session.exec(select(Subcontractor.country).distinct().order_by(Subcontractor.country))
    )


# ------------------------------------------------------------------------------ chain and history


@dataclass(eq=False)
class ChainNode:
    """One party in a re-entrustment tree, with the parties it entrusts work to."""

    id: int
    name: str
    tier: int
    children: list[ChainNode] = field(default_factory=list)


@dataclass(frozen=True)
class Chain:
    """The parties above one subcontractor (top first) and the whole tree below it."""

    ancestors: list[ChainNode]
    descendants: list[ChainNode]

    def descendant_ids(self) -> set[int]:
        """Ids of every party below the subcontractor, at any depth."""
        found: set[int] = set()
        stack = list(self.descendants)
        while stack:
            node = stack.pop()
            found.add(node.id)
            stack.extend(node.children)
        return found


MAX_DEPTH = 50


def chain(session: Session, subcontractor_id: int) -> Chain:
    """Ancestors and descendants through two recursive queries, whatever the depth."""
    table = Subcontractor.__table__.c
    up = (
        sa.select(table.id, table.parent_id, table.name, table.tier, sa.literal(1).label("depth"))
        .where(
            table.id
            == sa.select(table.parent_id).where(table.id == subcontractor_id).scalar_subquery()
        )
        .cte("up", recursive=True)
    )
    parent = Subcontractor.__table__.alias("parent")
    up = up.union_all(
        sa.select(
            parent.c.id, parent.c.parent_id, parent.c.name, parent.c.tier, up.c.depth + 1
        ).where(parent.c.id == up.c.parent_id, up.c.depth < MAX_DEPTH)
    )
    ancestors_rows = session.exec(
        sa.select(up.c.id, up.c.name, up.c.tier).order_by(up.c.depth.desc())
    ).all()
    down = (
        sa.select(table.id, table.parent_id, table.name, table.tier, sa.literal(1).label("depth"))
        .where(table.parent_id == subcontractor_id)
        .cte("down", recursive=True)
    )
    child = Subcontractor.__table__.alias("child")
    down = down.union_all(
        sa.select(
            child.c.id, child.c.parent_id, child.c.name, child.c.tier, down.c.depth + 1
        ).where(child.c.parent_id == down.c.id, down.c.depth < MAX_DEPTH)
    )
    rows = session.exec(
        sa.select(down.c.id, down.c.parent_id, down.c.name, down.c.tier).order_by(down.c.name)
    ).all()
    # a loop (impossible through the service, guarded anyway) could bring the root back: skip it
    nodes = {
        row_id: ChainNode(row_id, name, tier)
        for row_id, _, name, tier in rows
        if row_id != subcontractor_id
    }
    top: list[ChainNode] = []
    placed: set[int] = set()
    for row_id, parent_id, _, _ in rows:
        if row_id not in nodes or row_id in placed:
            continue
        placed.add(row_id)
        if parent_id == subcontractor_id:
            top.append(nodes[row_id])
        elif parent_id in nodes:
            nodes[parent_id].children.append(nodes[row_id])
    seen: set[int] = set()
    ancestors = []
    for row_id, name, tier in ancestors_rows:
        if row_id not in seen and row_id != subcontractor_id:
            seen.add(row_id)
            ancestors.append(ChainNode(row_id, name, tier))
    return Chain(ancestors=ancestors, descendants=top)


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


def history(session: Session, subcontractor_id: int) -> list[HistoryRow]:
    """Every assessment of the subcontractor, newest first, in one query."""
    rows = session.exec(
        select(Assessment, Checklist.slug, ChecklistVersion.title_en, ChecklistVersion.version)
        .join(ChecklistVersion, ChecklistVersion.id == Assessment.checklist_version_id)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
        .where(Assessment.subcontractor_id == subcontractor_id)
        .order_by(
            sa.func.coalesce(Assessment.approved_at, Assessment.created_at).desc(),
            Assessment.id.desc(),
        )
    ).all()
    return [HistoryRow(a, slug, title, version) for a, slug, title, version in rows]


def latest_approved(rows: Iterable[HistoryRow]) -> HistoryRow | None:
    """The approved assessment with the latest approval (ties: highest id), as the list uses."""
    approved = [r for r in rows if r.assessment.state == "approved" and r.assessment.approved_at]
    if not approved:
        return None
    return max(approved, key=lambda r: (r.assessment.approved_at, r.assessment.id))


def parse_categories(text: str) -> list[str]:
    """Data categories typed as comma- or newline-separated text, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\n、，]", text or ""):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def parent_choices(session: Session, exclude: set[int] | None = None) -> list[tuple[int, str]]:
    """(id, name) of every subcontractor that may be chosen as a parent, by name."""
    rows = session.exec(select(Subcontractor.id, Subcontractor.name).order_by(Subcontractor.name))
    return [(row_id, name) for row_id, name in rows if row_id not in (exclude or set())]


def get(session: Session, subcontractor_id: int) -> Subcontractor:
    """The subcontractor with this id; ``NotFound`` when there is none."""
    found = session.get(Subcontractor, subcontractor_id)
    if found is None:
        raise NotFound(f"no subcontractor {subcontractor_id}")
    return found
