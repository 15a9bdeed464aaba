"""The PDF report of an assessment (final once approved, marked DRAFT before)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from ..extensions import db
from ..reports import service as reports
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import ReportQuerySchema

blp = ApiBlueprint(
    "api_reports", __name__, tag="reports", description="PDF reports in English or Japanese."
)


@blp.route("/assessments/<int:assessment_id>/report.pdf")
class Report(MethodView):
    @blp.arguments(ReportQuerySchema, location="query")
    @blp.response(
        200,
        {"type": "string", "format": "binary"},
        content_type="application/pdf",
        description="The PDF (X-Report-Cached: true when served from the report cache)",
    )
    @blp.errors(404, 422)
    def get(self, args: dict[str, Any], assessment_id: int) -> Response:
        """The assessment's PDF report; ``lang=ja`` for Japanese."""
        made = reports.report(
            db.session,
            current_user(),
            assessment_id,
            args["lang"],
            current_app.config["TIMEZONE"],
        )
        response = current_app.response_class(made.pdf, mimetype="application/pdf")
        response.headers.set("Content-Disposition", "attachment", filename=made.filename)
        response.headers["X-Report-Cached"] = "true" if made.cached else "false"
        response.headers["Cache-Control"] = "private, no-store"
        return response
