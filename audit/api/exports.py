"""Exports: answers as CSV; OSCAL assessment-results and plan-of-action-and-milestones (POA&M)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from flask.views import MethodView

from .. import urls
from ..extensions import db
from ..security import attachment
from ..services import exports
from . import examples
from .assessments import load
from .auth import current_user
from .blueprint import ApiBlueprint

#: how OSCAL documents link to evidence, said once in the OpenAPI document
OSCAL_LINKS_DOC = (
    "Evidence files are back-matter resources whose `rlinks` point at "
    "`/api/v1/evidence/{id}/download` (absolute: under KANSA_BASE_URL when it is set, else the "
    "request's host) with the file's SHA-256 in `hashes`. UUIDs are stable per installation."
)

blp = ApiBlueprint(
    "api_exports",
    __name__,
    tag="exports",
    description="Answers as CSV; NIST OSCAL 1.1 assessment-results and POA&M JSON. "
    + OSCAL_LINKS_DOC,
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


def _links() -> exports.OscalLinks:
    return exports.OscalLinks(urls.evidence_download_url, current_app.config["TIMEZONE"])


@blp.route("/assessments/<int:assessment_id>/oscal")
class Oscal(MethodView):
    @blp.response(
        200,
        {
            "type": "object",
            "additionalProperties": True,
            "example": {
                "assessment-results": {
                    "uuid": "0b7f2c1e-4a5d-5e8f-9c3b-2d1a0e9f8c7b",
                    "metadata": {"title": "Aozora Cloud annual audit 2026", "version": "12"},
                    "results": [],
                }
            },
        },
        description="An OSCAL 1.1 assessment-results document",
    )
    @blp.errors(404)
    def get(self, assessment_id: int) -> Any:
        """The assessment as OSCAL assessment-results (results, findings, observations).

        The audit period is the result's `start` and `end`; the subcontractor, auditors and
        reviewer are parties with roles; submission and approval are `assessment-log` entries.
        """
        assessment = load(assessment_id)
        return jsonify(exports.oscal_assessment_results(db.session, assessment, _links()))


@blp.route("/assessments/<int:assessment_id>/poam")
class AssessmentPoam(MethodView):
    @blp.response(
        200,
        {"type": "object", "additionalProperties": True, "example": examples.POAM},
        description="An OSCAL 1.1 plan-of-action-and-milestones document",
    )
    @blp.errors(404)
    def get(self, assessment_id: int) -> Any:
        """The assessment's findings as an OSCAL POA&M (404 when it has none).

        Each current finding, whatever its status, is a `poam-item` related to its `finding`,
        the `observation` it came from and a `risk` with its status, deadline (the due date) and
        remediation (the plan, a milestone on the due date, the owner as a party).
        """
        assessment = load(assessment_id)
        return jsonify(exports.oscal_poam(db.session, assessment, _links()))


@blp.route("/poam")
class OpenPoam(MethodView):
    @blp.response(
        200,
        {"type": "object", "additionalProperties": True, "example": examples.POAM},
        description="An OSCAL 1.1 plan-of-action-and-milestones document",
    )
    @blp.errors(404)
    def get(self) -> Any:
        """Every open finding (open or in remediation) of every assessment as one OSCAL POA&M.

        404 when no finding is open. Closed findings and accepted risks are left out.
        """
        return jsonify(exports.oscal_open_poam(db.session, current_user(), _links()))
