"""Subcontractors: the directory with filters and audit due dates, and their records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..models import Subcontractor
from ..services import subcontractor_admin
from ..services import subcontractors as service
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import (
    SubcontractorCreateSchema,
    SubcontractorOutSchema,
    SubcontractorPatchSchema,
    SubcontractorQuerySchema,
)
from .support import page

blp = ApiBlueprint(
    "api_subcontractors",
    __name__,
    tag="subcontractors",
    description="The entrusted parties, their re-entrustment chain and audit due dates.",
)

SORT_COLUMNS = {
    "name": Subcontractor.name,
    "id": Subcontractor.id,
    "tier": Subcontractor.tier,
    "created_at": Subcontractor.created_at,
}


def _out(row: service.ScheduleRow) -> dict[str, Any]:
    sub = row.subcontractor
    return {
        **{name: getattr(sub, name) for name in service.FIELDS},
        "id": sub.id,
        "parent_name": row.parent_name,
        "cadence_months": sub.cadence_months,
        "last_approved": row.last_approved,
        "rating": row.rating,
        "score": row.score,
        "next_due": row.next_due,
        "overdue": row.overdue,
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
    }


def _status(subcontractor: Subcontractor) -> dict[str, Any]:
    """One subcontractor with its audit status, as its profile page shows it."""
    tz = service.zone(current_app.config.get("TIMEZONE"))
    today = datetime.now(tz).date()
    latest = service.latest_approved(service.history(db.session, subcontractor.id))
    parent_id = subcontractor.parent_id
    parent = db.session.get(Subcontractor, parent_id) if parent_id is not None else None
    row = service.schedule_row(
        subcontractor,
        latest.assessment.approved_at if latest else None,
        latest.rating if latest else None,
        today,
        tz,
        parent_name=parent.name if parent else None,
        score=latest.score if latest else None,
    )
    return _out(row)


@blp.route("/subcontractors")
class Subcontractors(MethodView):
    @blp.arguments(SubcontractorQuerySchema, location="query")
    @blp.response(200, SubcontractorOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """The directory: filter by text, tier, country, latest rating or overdue audits."""
        tz = service.zone(current_app.config.get("TIMEZONE"))
        today = datetime.now(tz).date()
        filters = service.DirectoryFilters(
            q=args.get("q") or None,
            tier=args.get("tier"),
            country=(args.get("country") or "").upper() or None,
            rating=args.get("rating"),
            overdue=bool(args.get("overdue")),
        )
        key = args["sort"]
        column = SORT_COLUMNS[key.lstrip("-")]
        statement = (
            service.directory_statement(filters, today, tz)
            .order_by(None)
            .order_by(column.desc() if key.startswith("-") else column, Subcontractor.id)
        )
        rows = page(statement, pagination_parameters)
        return [_out(row) for row in service.rows_from(rows, today, tz)]

    @blp.arguments(SubcontractorCreateSchema)
    @blp.response(201, SubcontractorOutSchema)
    @blp.errors(409, 415, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Record a subcontractor (auditors and admins); 409 when the name is taken."""
        created = service.create(db.session, current_user(), data)
        db.session.commit()
        return _status(created)


@blp.route("/subcontractors/<int:subcontractor_id>")
class SubcontractorOne(MethodView):
    @blp.response(200, SubcontractorOutSchema)
    @blp.errors(404)
    def get(self, subcontractor_id: int) -> dict[str, Any]:
        """One subcontractor with its latest rating and next audit date."""
        return _status(service.get(db.session, subcontractor_id))

    @blp.arguments(SubcontractorPatchSchema)
    @blp.response(200, SubcontractorOutSchema)
    @blp.errors(404, 409, 415, 422)
    def patch(self, data: dict[str, Any], subcontractor_id: int) -> dict[str, Any]:
        """Change some fields (auditors and admins); the result is validated as a whole."""
        subcontractor = service.get(db.session, subcontractor_id)
        service.update(db.session, current_user(), subcontractor, data)
        db.session.commit()
        return _status(subcontractor)

    @blp.response(204)
    @blp.errors(404, 409)
    def delete(self, subcontractor_id: int) -> None:
        """Delete one recorded by mistake (admins): never one with assessments or sub-parties."""
        subcontractor = service.get(db.session, subcontractor_id)
        subcontractor_admin.delete(db.session, current_user(), subcontractor)
        db.session.commit()
