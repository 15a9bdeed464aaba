"""Exports of an assessment: answers as CSV, and an OSCAL assessment-results document."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView

from ..extensions import db
from ..security import attachment
from ..services import exports
from .assessments import load
from .blueprint import ApiBlueprint

blp = ApiBlueprint(
    "api_exports",
    __name__,
    tag="exports",
    description="Answers as CSV and NIST OSCAL assessment-results JSON.",
)


@blp.route("/assessments/<int:assessment_id>/answers.csv")
class AnswersCsv(MethodView):
    @blp.response(
        200,
        {"type": "string"},
        content_type="text/csv",
        description="One row per checklist item: section, ref, question, weight, critical, "
        "answer, comment, answered_by, answered_at, evidence",
    )
    @blp.errors(404)
    def get(self, assessment_id: int) -> Response:
        """Every item of the pinned checklist version with its answer, as CSV."""
        assessment = load(assessment_id)
        return attachment(
            exports.answers_csv(db.session, assessment),
            "text/csv",
            f"kansa-assessment-{assessment_id}.csv",
        )


@blp.route("/assessments/<int:assessment_id>/oscal")
class Oscal(MethodView):
    @blp.response(
        200,
        {
            "type": "object",
            "additionalProperties": True,
            "example": {
                "assessment-results": {
                    "uuid": "0b7f2c1e-4a5d-4e8f-9c3b-2d1a0e9f8c7b",
                    "metadata": {"title": "Aozora Cloud annual audit 2026", "version": "12"},
                    "results": [],
                }
            },
        },
        description="An OSCAL 1.1.2 assessment-results document",
    )
    @blp.errors(404)
    def get(self, assessment_id: int) -> Any:
        """The assessment as OSCAL assessment-results (results, findings, observations)."""
        assessment = load(assessment_id)
        return jsonify(exports.oscal_assessment_results(db.session, assessment))
