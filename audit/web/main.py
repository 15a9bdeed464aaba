"""The dashboard: my open work, ratings, recent activity and audits falling due."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlmodel import select

from ..extensions import db
from ..models import (
    EDITABLE_STATES,
    Assessment,
    AssessmentAuditor,
    AuditEvent,
    Subcontractor,
)
from ..services import subcontractors as subcontractor_service
from .helpers import local_today

bp = Blueprint("main", __name__)
OPEN_STATES = (*EDITABLE_STATES, "submitted")


def my_open_assessments(user_id: int, today: date) -> list[tuple[Assessment, str, bool]]:
    """Open assessments I audit or review: overdue first, then by due date."""
    mine = select(AssessmentAuditor.assessment_id).where(AssessmentAuditor.user_id == user_id)
    rows = db.session.exec(
        select(Assessment, Subcontractor.name)
        .join(Subcontractor, Subcontractor.id == Assessment.subcontractor_id)
        .where(
            Assessment.state.in_(OPEN_STATES),
            sa.or_(Assessment.id.in_(mine), Assessment.reviewer_id == user_id),
        )
        .order_by(Assessment.due_date.is_(None), Assessment.due_date, Assessment.id)
        .limit(50)
    ).all()
    return [(a, name, bool(a.due_date and a.due_date < today)) for a, name in rows]


def rating_counts() -> dict[str, int]:
    """Subcontractors by the rating of their latest approved assessment."""
    rating = Assessment.score_snapshot["rating"].as_string()
    latest = (
        select(
            Assessment.subcontractor_id,
            rating.label("rating"),
            sa.func.row_number()
            .over(
                partition_by=Assessment.subcontractor_id,
                order_by=(Assessment.approved_at.desc(), Assessment.id.desc()),
            )
            .label("n"),
        )
        .where(Assessment.state == "approved")
        .subquery()
    )
    rows = db.session.exec(
        select(latest.c.rating, sa.func.count()).where(latest.c.n == 1).group_by(latest.c.rating)
    ).all()
    counts = dict.fromkeys("ABCDE", 0)
    counts.update({r: n for r, n in rows if r in counts})
    return counts


@bp.route("/")
@login_required
def index() -> str:
    today = local_today()
    open_work = my_open_assessments(current_user.id, today)
    by_state: dict[str, list] = {state: [] for state in OPEN_STATES}
    for row in open_work:
        by_state[row[0].state].append(row)
    events = db.session.exec(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(12)).all()
    return render_template(
        "main/index.html",
        open_work=open_work,
        by_state=by_state,
        overdue=[row for row in open_work if row[2]],
        ratings=rating_counts(),
        events=events,
        schedule=subcontractor_service.audit_schedule(db.session, today, within_days=60, limit=15),
        today=today,
    )
