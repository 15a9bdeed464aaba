"""Assessments: list, create, change, delete drafts, and the workflow (submit, approve, return).

Every assessment carries an ETag made of its id and revision. Writes need ``If-Match`` with
that ETag: without it 428, with an old one 412, and in both cases nothing is written. The
revision is also handed to the service, whose compare-and-set catches a race in between.
"""

from __future__ import annotations

from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..models import Assessment, id_of
from ..services import NotFound, visibility, worklists
from ..services import assessments as svc
from .auth import current_user, sight
from .blueprint import ApiBlueprint
from .schemas import (
    AssessmentCreateSchema,
    AssessmentOutSchema,
    AssessmentPatchSchema,
    AssessmentQuerySchema,
    ReturnSchema,
    ReviewSchema,
)
from .support import etag_header, etag_value, expected_revision, not_modified, page

blp = ApiBlueprint(
    "api_assessments",
    __name__,
    tag="assessments",
    description="Assessments and their review workflow; writes need If-Match.",
)


def _out(row: Any, auditor_ids: list[int]) -> dict[str, Any]:
    assessment, company, slug, _title, version = row
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
    return svc.get_for(db.session, current_user(), assessment_id)


def represent(assessment: Assessment) -> dict[str, Any]:
    """One assessment as the API shows it (the caller has checked the reader may see it)."""
    assessment_id = id_of(assessment)
    statement = worklists.search(worklists.AssessmentFilters(), within=visibility.UNLIMITED).where(
        Assessment.id == assessment_id
    )
    row = db.session.exec(statement).first()
    if row is None:
        raise NotFound(f"no assessment {assessment_id}")
    return _out(row, worklists.auditors_by_assessment(db.session, [assessment_id])[assessment_id])


@blp.route("/assessments")
class Assessments(MethodView):
    @blp.arguments(AssessmentQuerySchema, location="query")
    @blp.response(200, AssessmentOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Assessments, filtered by state, subcontractor, checklist or due date."""
        filters = worklists.AssessmentFilters(
            state=args.get("state"),
            subcontractor_id=args.get("subcontractor_id"),
            checklist=args.get("checklist"),
            checklist_version_id=args.get("checklist_version_id"),
            due_before=args.get("due_before"),
            due_after=args.get("due_after"),
            mine_of=current_user().id if args.get("mine") else None,
            updated_since=args.get("updated_since"),
        )
        rows = page(worklists.search(filters, args["sort"], within=sight()), pagination_parameters)
        auditors = worklists.auditors_by_assessment(db.session, [row[0].id for row in rows])
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
        return represent(assessment), 201, headers


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
        return represent(assessment), 200, etag_header(assessment)

    @blp.if_match
    @blp.arguments(AssessmentPatchSchema)
    @blp.response(200, AssessmentOutSchema)
    @blp.returns_etag
    @blp.errors(404, 409, 415, 422)
    def patch(self, data: dict[str, Any], assessment_id: int) -> Any:
        """Change title, due date, reviewer or period while it is open (its auditors, admins)."""
        assessment = load(assessment_id)
        revision = expected_revision(assessment)
        svc.update_details(db.session, current_user(), assessment, data, revision)
        db.session.commit()
        return represent(assessment), 200, etag_header(assessment)

    @blp.if_match
    @blp.response(204)
    @blp.errors(404, 409)
    def delete(self, assessment_id: int) -> Response:
        """Delete a draft with no answers and no evidence (its creator or an admin)."""
        assessment = load(assessment_id)
        revision = expected_revision(assessment)
        svc.delete_draft(db.session, current_user(), assessment, revision)
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
    return represent(assessment), 200, etag_header(assessment)


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
@blp.arguments(ReturnSchema)
@blp.response(200, AssessmentOutSchema)
@blp.returns_etag
@blp.errors(404, 409, 415, 422)
def return_(body: dict[str, Any], assessment_id: int) -> Any:
    """Return a submitted assessment to its auditors with a comment saying what to change."""
    return _transition(assessment_id, "return", body.get("comment", ""))
