"""Assessments: list, create, change, delete drafts, and the workflow (submit, approve, return).

Every assessment carries an ETag made of its id and revision. Writes need ``If-Match`` with
that ETag: without it 428, with an old one 412, and in both cases nothing is written. The
revision is also handed to the service, whose compare-and-set catches a race in between.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Response, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlmodel import select

from ..extensions import db
from ..models import Assessment, AssessmentAuditor, Checklist, ChecklistVersion, Subcontractor
from ..services import Forbidden, NotFound, assessment_admin
from ..services import assessments as svc
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import (
    AssessmentCreateSchema,
    AssessmentOutSchema,
    AssessmentPatchSchema,
    AssessmentQuerySchema,
    ReviewSchema,
)
from .support import etag_header, etag_value, expected_revision, not_modified, page

blp = ApiBlueprint(
    "api_assessments",
    __name__,
    tag="assessments",
    description="Assessments and their review workflow; writes need If-Match.",
)

SORT_COLUMNS = {
    "id": Assessment.id,
    "due_date": Assessment.due_date,
    "created_at": Assessment.created_at,
    "title": Assessment.title,
}


def _statement() -> Any:
    return (
        select(Assessment, Subcontractor.name, Checklist.slug, ChecklistVersion.version)
        .join(Subcontractor, Subcontractor.id == Assessment.subcontractor_id)
        .join(ChecklistVersion, ChecklistVersion.id == Assessment.checklist_version_id)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
    )


def _auditors(ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        rows = db.session.exec(
            select(AssessmentAuditor.assessment_id, AssessmentAuditor.user_id)
            .where(AssessmentAuditor.assessment_id.in_(ids))
            .order_by(AssessmentAuditor.user_id)
        ).all()
        for assessment_id, user_id in rows:
            found[assessment_id].append(user_id)
    return found


def _out(row: Any, auditor_ids: list[int]) -> dict[str, Any]:
    assessment, company, slug, version = row
    return {
        **assessment.model_dump(),
        "editable": assessment.editable,
        "etag": etag_value(assessment),
        "subcontractor_name": company,
        "checklist": slug,
        "version": version,
        "auditor_ids": auditor_ids,
    }


def load(assessment_id: int) -> Assessment:
    """The assessment, if the token's user may see it (404 / 403 otherwise)."""
    assessment = svc.get(db.session, assessment_id)
    if not svc.can_view(current_user(), assessment):
        raise Forbidden("you may not read this assessment")
    return assessment


def represent(assessment_id: int) -> dict[str, Any]:
    """One assessment as the API shows it."""
    row = db.session.exec(_statement().where(Assessment.id == assessment_id)).first()
    if row is None:
        raise NotFound(f"no assessment {assessment_id}")
    return _out(row, _auditors([assessment_id])[assessment_id])


@blp.route("/assessments")
class Assessments(MethodView):
    @blp.arguments(AssessmentQuerySchema, location="query")
    @blp.response(200, AssessmentOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Assessments, filtered by state, subcontractor, checklist or due date."""
        statement = _statement()
        if "state" in args:
            statement = statement.where(Assessment.state == args["state"])
        if "subcontractor_id" in args:
            statement = statement.where(Assessment.subcontractor_id == args["subcontractor_id"])
        if "checklist" in args:
            statement = statement.where(Checklist.slug == args["checklist"])
        if "checklist_version_id" in args:
            statement = statement.where(
                Assessment.checklist_version_id == args["checklist_version_id"]
            )
        if "due_before" in args:
            statement = statement.where(Assessment.due_date <= args["due_before"])
        if "due_after" in args:
            statement = statement.where(Assessment.due_date >= args["due_after"])
        if args.get("mine"):
            user = current_user()
            audited = select(AssessmentAuditor.assessment_id).where(
                AssessmentAuditor.user_id == user.id
            )
            statement = statement.where(
                sa.or_(Assessment.id.in_(audited), Assessment.reviewer_id == user.id)
            )
        key = args["sort"]
        column = SORT_COLUMNS[key.lstrip("-")]
        statement = statement.order_by(
            column.is_(None),  # undated last on SQLite and PostgreSQL alike
            column.desc() if key.startswith("-") else column,
            Assessment.id,
        )
        rows = page(statement, pagination_parameters)
        auditors = _auditors([row[0].id for row in rows])
        return [_out(row, auditors[row[0].id]) for row in rows]

    @blp.arguments(AssessmentCreateSchema)
    @blp.response(201, AssessmentOutSchema)
    @blp.returns_etag
    @blp.errors(415, 422)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a draft pinned to a published checklist version (auditors and admins)."""
        assessment = svc.create(db.session, current_user(), **data)
        db.session.commit()
        headers = etag_header(assessment) | {
            "Location": url_for(".AssessmentOne", assessment_id=assessment.id)
        }
        return represent(assessment.id), 201, headers


@blp.route("/assessments/<int:assessment_id>")
class AssessmentOne(MethodView):
    @blp.response(200, AssessmentOutSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    @blp.returns_etag
    @blp.errors(404)
    def get(self, assessment_id: int) -> Any:
        """One assessment, with its ETag."""
        assessment = load(assessment_id)
        unchanged = not_modified(assessment)
        if unchanged is not None:
            return unchanged
        return represent(assessment.id), 200, etag_header(assessment)

    @blp.if_match
    @blp.arguments(AssessmentPatchSchema)
    @blp.response(200, AssessmentOutSchema)
    @blp.returns_etag
    @blp.errors(404, 409, 415, 422)
    def patch(self, data: dict[str, Any], assessment_id: int) -> Any:
        """Change title, due date, reviewer or period while it is open (its auditors, admins)."""
        assessment = load(assessment_id)
        revision = expected_revision(assessment)
        assessment_admin.update_details(db.session, current_user(), assessment, data, revision)
        db.session.commit()
        return represent(assessment.id), 200, etag_header(assessment)

    @blp.if_match
    @blp.response(204)
    @blp.errors(404, 409)
    def delete(self, assessment_id: int) -> Response:
        """Delete a draft with no answers and no evidence (its creator or an admin)."""
        assessment = load(assessment_id)
        revision = expected_revision(assessment)
        assessment_admin.delete_draft(db.session, current_user(), assessment, revision)
        db.session.commit()
        return Response(status=204)


def _transition(assessment_id: int, action: str, comment: str = "") -> Any:
    assessment = load(assessment_id)
    revision = expected_revision(assessment)
    user = current_user()
    if action == "submit":
        svc.submit(db.session, user, assessment, revision)
    elif action == "approve":
        svc.approve(db.session, user, assessment, revision, comment)
    else:
        svc.return_to_auditors(db.session, user, assessment, revision, comment)
    db.session.commit()
    return represent(assessment.id), 200, etag_header(assessment)


@blp.route("/assessments/<int:assessment_id>/submit", methods=["POST"])
@blp.if_match
@blp.response(200, AssessmentOutSchema)
@blp.returns_etag
@blp.errors(404, 409, 422)
def submit(assessment_id: int) -> Any:
    """Submit for review: every applicable item answered, every gap commented (its auditors).

    409 when items still need attention, with ``problems`` listing each one.
    """
    return _transition(assessment_id, "submit")


@blp.route("/assessments/<int:assessment_id>/approve", methods=["POST"])
@blp.if_match
@blp.arguments(ReviewSchema, required=False)
@blp.response(200, AssessmentOutSchema)
@blp.returns_etag
@blp.errors(404, 409, 415, 422)
def approve(body: dict[str, Any], assessment_id: int) -> Any:
    """Approve a submitted assessment and freeze it (its reviewer, never one of its auditors)."""
    return _transition(assessment_id, "approve", body.get("comment", ""))


@blp.route("/assessments/<int:assessment_id>/return", methods=["POST"])
@blp.if_match
@blp.arguments(ReviewSchema)
@blp.response(200, AssessmentOutSchema)
@blp.returns_etag
@blp.errors(404, 409, 415, 422)
def return_(body: dict[str, Any], assessment_id: int) -> Any:
    """Return a submitted assessment to its auditors with a comment saying what to change."""
    return _transition(assessment_id, "return", body.get("comment", ""))
