"""Findings: gaps found by answers, with remediation plans that outlive the audit."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..models import Finding
from ..services import findings as svc
from .auth import current_user, sight
from .blueprint import ApiBlueprint
from .schemas import FindingOutSchema, FindingPatchSchema, FindingQuerySchema
from .support import etag_header, etag_value, expected_revision, not_modified, page

blp = ApiBlueprint(
    "api_findings",
    __name__,
    tag="findings",
    description="Findings and their remediation (plan, owner, due date, status).",
)


def _out(finding: Finding, ref: str) -> dict[str, Any]:
    return {**finding.model_dump(), "item_ref": ref, "etag": etag_value(finding)}


@blp.route("/findings")
class Findings(MethodView):
    @blp.arguments(FindingQuerySchema, location="query")
    @blp.response(200, FindingOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Findings across assessments, by severity then due date unless sorted otherwise."""
        filters = svc.FindingFilters(
            assessment_id=args.get("assessment_id"),
            severity=args.get("severity"),
            status=args.get("status"),
            current=args.get("current"),
            updated_since=args.get("updated_since"),
        )
        rows = page(svc.search(filters, args["sort"], within=sight()), pagination_parameters)
        return [_out(finding, ref) for finding, ref, _title, _company in rows]


@blp.route("/findings/<int:finding_id>")
class FindingOne(MethodView):
    @blp.response(200, FindingOutSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    @blp.returns_etag
    @blp.errors(404)
    def get(self, finding_id: int) -> Any:
        """One finding, with its ETag."""
        finding, ref, _title, _company = svc.get_row(db.session, current_user(), finding_id)
        unchanged = not_modified(finding)
        if unchanged is not None:
            return unchanged
        return _out(finding, ref), 200, etag_header(finding)

    @blp.if_match
    @blp.arguments(FindingPatchSchema)
    @blp.response(200, FindingOutSchema)
    @blp.returns_etag
    @blp.errors(404, 415, 422)
    def patch(self, data: dict[str, Any], finding_id: int) -> Any:
        """Change plan, owner, due date or status (its auditors, its reviewer, admins)."""
        finding, ref, _title, _company = svc.get_row(db.session, current_user(), finding_id)
        current = {name: getattr(finding, name) for name in svc.EDITABLE_FIELDS}
        revision = expected_revision(finding)
        svc.update(
            db.session, current_user(), finding, **(current | data), expected_revision=revision
        )
        db.session.commit()
        return _out(finding, ref), 200, etag_header(finding)
