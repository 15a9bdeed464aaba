"""Answers of an assessment (read all, write one or many) and its live score.

Answers share the assessment's ETag: every saved answer moves the revision on, so a client
that read the answers sends that ETag back in If-Match when it writes.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from ..extensions import db
from ..models import Assessment
from ..services import assessments as svc
from .assessments import load
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import AnswerInSchema, AnswersInSchema, AnswersOutSchema, ScoreSchema
from .support import etag_header, etag_value, expected_revision, not_modified

blp = ApiBlueprint(
    "api_answers",
    __name__,
    tag="answers",
    description="Answers to an assessment's items, and the score they give now.",
)


def _answers(assessment: Assessment) -> dict[str, Any]:
    order = {ref: i for i, ref in enumerate(svc.definition(db.session, assessment).item_index())}
    stored = svc.answers_by_ref(db.session, assessment)
    return {
        "assessment_id": assessment.id,
        "revision": assessment.revision,
        "etag": etag_value(assessment),
        "answers": [
            {
                "ref": ref,
                "status": answer.status,
                "comment": answer.comment,
                "answered_by_id": answer.answered_by_id,
                "answered_at": answer.answered_at,
            }
            for ref, answer in sorted(stored.items(), key=lambda kv: order.get(kv[0], 1 << 30))
        ],
    }


def _save(assessment_id: int, inputs: list[svc.AnswerInput]) -> Any:
    assessment = load(assessment_id)
    revision = expected_revision(assessment)
    svc.save_answers(db.session, current_user(), assessment, inputs, revision)
    db.session.commit()
    return _answers(assessment), 200, etag_header(assessment)


@blp.route("/assessments/<int:assessment_id>/answers")
class Answers(MethodView):
    @blp.response(200, AnswersOutSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    @blp.returns_etag
    @blp.errors(404)
    def get(self, assessment_id: int) -> Any:
        """Every stored answer, in checklist order, with the assessment's ETag."""
        assessment = load(assessment_id)
        unchanged = not_modified(assessment)
        if unchanged is not None:
            return unchanged
        return _answers(assessment), 200, etag_header(assessment)

    @blp.if_match
    @blp.arguments(AnswersInSchema)
    @blp.response(200, AnswersOutSchema)
    @blp.returns_etag
    @blp.errors(404, 409, 415, 422)
    def patch(self, body: dict[str, Any], assessment_id: int) -> Any:
        """Save several answers at once, all or nothing (status null clears one).

        Items left out keep their answers. A refused answer (422 naming its ref) saves none.
        """
        inputs = [
            svc.AnswerInput(entry["ref"], entry["status"], entry.get("comment", ""))
            for entry in body["answers"]
        ]
        return _save(assessment_id, inputs)


@blp.route("/assessments/<int:assessment_id>/answers/<ref>")
class AnswerOne(MethodView):
    @blp.if_match
    @blp.arguments(AnswerInSchema)
    @blp.response(200, AnswersOutSchema)
    @blp.returns_etag
    @blp.errors(404, 409, 415, 422)
    def put(self, body: dict[str, Any], assessment_id: int, ref: str) -> Any:
        """Save one item's answer and comment (status null clears it)."""
        return _save(assessment_id, [svc.AnswerInput(ref, body["status"], body.get("comment", ""))])


@blp.route("/assessments/<int:assessment_id>/score", methods=["GET"])
@blp.doc(operationId="getScore")
@blp.response(200, ScoreSchema)
@blp.errors(404)
def score(assessment_id: int) -> dict[str, Any]:
    """The rules module's result for the answers as they stand now (score, rating, caps)."""
    return svc.live_score(db.session, load(assessment_id)).as_dict()
