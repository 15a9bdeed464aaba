"""Subcontractors: the directory with filters and audit due dates, and their records."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..models import Subcontractor, User, ViewerGrant
from ..services import visibility
from ..services.subcontractors import register, schedule
from .auth import current_user, sight
from .blueprint import ApiBlueprint
from .schemas import (
    INT32,
    SubcontractorCreateSchema,
    SubcontractorOutSchema,
    SubcontractorPatchSchema,
    SubcontractorQuerySchema,
)
from .support import etag_header, etag_value, expected_revision, not_modified, page

blp = ApiBlueprint(
    "api_subcontractors",
    __name__,
    tag="subcontractors",
    description="The entrusted parties, their re-entrustment chain and audit due dates.",
)


def _out(row: schedule.ScheduleRow) -> dict[str, Any]:
    sub = row.subcontractor
    return {
        **{name: getattr(sub, name) for name in register.FIELDS},
        "id": sub.id,
        "revision": sub.revision,
        "etag": etag_value(sub),
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
    tz = current_app.config["TIMEZONE"]
    today = schedule.today_in(tz)
    return _out(schedule.status(db.session, subcontractor, today, tz, within=sight()))


@blp.route("/subcontractors")
class Subcontractors(MethodView):
    @blp.arguments(SubcontractorQuerySchema, location="query")
    @blp.response(200, SubcontractorOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """The directory: filter by text, tier, country, latest rating or overdue audits."""
        tz = current_app.config["TIMEZONE"]
        today = schedule.today_in(tz)
        filters = schedule.DirectoryFilters(
            q=args.get("q") or None,
            tier=args.get("tier"),
            country=(args.get("country") or "").upper() or None,
            rating=args.get("rating"),
            overdue=bool(args.get("overdue")),
            updated_since=args.get("updated_since"),
        )
        statement = schedule.directory_statement(
            filters, today, tz, within=sight(), sort=args["sort"]
        )
        return [
            _out(row)
            for row in schedule.rows_from(page(statement, pagination_parameters), today, tz)
        ]

    @blp.arguments(SubcontractorCreateSchema)
    @blp.response(201, SubcontractorOutSchema)
    @blp.returns_etag
    @blp.errors(409, 415, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a subcontractor (auditors and admins); 409 when the name is taken."""
        created = register.create(db.session, current_user(), data)
        db.session.commit()
        headers = etag_header(created) | {
            "Location": url_for(".SubcontractorOne", subcontractor_id=created.id)
        }
        return _status(created), 201, headers


@blp.route("/subcontractors/<int:subcontractor_id>")
class SubcontractorOne(MethodView):
    @blp.response(200, SubcontractorOutSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    @blp.returns_etag
    @blp.errors(404)
    def get(self, subcontractor_id: int) -> Any:
        """One subcontractor with its latest rating and next audit date, and its ETag."""
        subcontractor = register.get_for(db.session, current_user(), subcontractor_id)
        unchanged = not_modified(subcontractor)
        if unchanged is not None:
            return unchanged
        return _status(subcontractor), 200, etag_header(subcontractor)

    @blp.if_match
    @blp.arguments(SubcontractorPatchSchema)
    @blp.response(200, SubcontractorOutSchema)
    @blp.returns_etag
    @blp.errors(404, 409, 415, 422)
    def patch(self, data: dict[str, Any], subcontractor_id: int) -> Any:
        """Change some fields (auditors and admins); the result is validated as a whole."""
        subcontractor = register.get_for(db.session, current_user(), subcontractor_id)
        revision = expected_revision(subcontractor)
        register.update(db.session, current_user(), subcontractor, data, revision)
        db.session.commit()
        return _status(subcontractor), 200, etag_header(subcontractor)

    @blp.if_match
    @blp.response(204)
    @blp.errors(404, 409)
    def delete(self, subcontractor_id: int) -> None:
        """Delete one recorded by mistake (admins): never one with assessments or sub-parties."""
        subcontractor = register.get_for(db.session, current_user(), subcontractor_id)
        revision = expected_revision(subcontractor)
        register.delete(db.session, current_user(), subcontractor, revision)
        db.session.commit()


# ------------------------------------------------------------------------------ viewer grants


class ViewerGrantOutSchema(ma.Schema):
    user_id = ma.fields.Integer()
    subcontractor_id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    granted_by_id = ma.fields.Integer(allow_none=True)
    granted_at = ma.fields.DateTime()


class ViewerGrantInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    user_id = ma.fields.Integer(
        required=True, validate=INT32, metadata={"description": "A viewer's user id"}
    )


def _grant_out(grant: ViewerGrant) -> dict[str, Any]:
    person = db.session.get(User, grant.user_id)
    return {
        **grant.model_dump(),
        "name": person.name if person else "",
        "email": person.email if person else "",
    }


@blp.route("/subcontractors/<int:subcontractor_id>/viewers")
class Viewers(MethodView):
    @blp.scope("admin")
    @blp.response(200, ViewerGrantOutSchema(many=True))
    @blp.errors(404)
    def get(self, subcontractor_id: int) -> list[dict[str, Any]]:
        """The viewers granted this subcontractor (admins; read under KANSA_VISIBILITY=assigned).

        A grant covers the subcontractor and every party below it in its re-entrustment chain.
        """
        found = visibility.grants(db.session, current_user(), subcontractor_id)
        return [_grant_out(grant) for grant in found]

    @blp.scope("admin")
    @blp.arguments(ViewerGrantInSchema)
    @blp.response(201, ViewerGrantOutSchema)
    @blp.errors(404, 415, 422)
    def post(self, data: dict[str, Any], subcontractor_id: int) -> Any:
        """Grant a viewer this subcontractor and its chain below it (admins; recorded)."""
        made = visibility.grant(db.session, current_user(), subcontractor_id, data["user_id"])
        db.session.commit()
        location = url_for(".ViewerOne", subcontractor_id=subcontractor_id, user_id=made.user_id)
        return _grant_out(made), 201, {"Location": location}


@blp.route("/subcontractors/<int:subcontractor_id>/viewers/<int:user_id>")
class ViewerOne(MethodView):
    @blp.scope("admin")
    @blp.response(200, ViewerGrantOutSchema)
    @blp.errors(404)
    def get(self, subcontractor_id: int, user_id: int) -> dict[str, Any]:
        """One viewer's grant on this subcontractor (admins)."""
        return _grant_out(
            visibility.grant_of(db.session, current_user(), subcontractor_id, user_id)
        )

    @blp.scope("admin")
    @blp.response(204)
    @blp.errors(404)
    def delete(self, subcontractor_id: int, user_id: int) -> Response:
        """Revoke a viewer's grant on this subcontractor (admins; recorded)."""
        visibility.revoke(db.session, current_user(), subcontractor_id, user_id)
        db.session.commit()
        return Response(status=204)
