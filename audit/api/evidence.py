"""Evidence files: list and upload per assessment (multipart), metadata and download by id."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Page

from ..extensions import db
from ..models import Evidence
from ..security import attachment
from ..services import evidence as evidence_svc
from .assessments import load
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import (
    EvidenceOutSchema,
    EvidenceQuerySchema,
    EvidenceUploadSchema,
    ListQuerySchema,
)

blp = ApiBlueprint(
    "api_evidence",
    __name__,
    tag="evidence",
    description="Evidence files: stored with their SHA-256, downloaded as attachments.",
)


def _out(evidence: Evidence, ref: str | None) -> dict[str, Any]:
    return {
        **evidence.model_dump(),
        "item_ref": ref,
        "download": url_for("api_evidence.download", evidence_id=evidence.id),
    }


@blp.route("/assessments/<int:assessment_id>/evidence")
class AssessmentEvidence(MethodView):
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, EvidenceOutSchema(many=True))
    @blp.paginate(Page)
    @blp.errors(404)
    def get(self, args: dict[str, Any], assessment_id: int) -> list[dict[str, Any]]:
        """The assessment's evidence files (metadata), oldest first (then by id).

        Files never change once uploaded: ``updated_since`` gives those uploaded since.
        """
        assessment = load(assessment_id)
        found = evidence_svc.for_assessment(db.session, assessment, args.get("updated_since"))
        return [_out(e, ref) for e, ref in found]

    @blp.arguments(EvidenceQuerySchema, location="query")
    @blp.arguments(EvidenceUploadSchema, location="files")
    @blp.response(201, EvidenceOutSchema)
    @blp.errors(404, 409, 413, 415, 422)
    def post(self, query: dict[str, Any], files: dict[str, Any], assessment_id: int) -> Any:
        """Upload a file (multipart field ``file``), optionally for one item (``?item_ref=``).

        The name is cleaned and the size checked (KANSA_MAX_UPLOAD_MB) by the same service as
        the web page; a body over the request limit is refused with 413.
        """
        assessment = load(assessment_id)
        upload = files["file"]
        limit = current_app.config["MAX_EVIDENCE_BYTES"]
        evidence = evidence_svc.add(
            db.session,
            current_user(),
            assessment,
            filename=upload.filename,
            content_type=upload.mimetype,
            data=upload.read(limit + 1),
            max_bytes=limit,
            item_ref=query.get("item_ref") or None,
        )
        db.session.commit()
        headers = {"Location": url_for("api_evidence.EvidenceOne", evidence_id=evidence.id)}
        return _out(evidence, query.get("item_ref") or None), 201, headers


@blp.route("/evidence/<int:evidence_id>")
class EvidenceOne(MethodView):
    @blp.response(200, EvidenceOutSchema)
    @blp.errors(404)
    def get(self, evidence_id: int) -> dict[str, Any]:
        """One evidence file's metadata."""
        return _out(*evidence_svc.get(db.session, current_user(), evidence_id))


@blp.route("/evidence/<int:evidence_id>/download", methods=["GET"])
@blp.response(
    200,
    {"type": "string", "format": "binary"},
    # served with the type stored at upload (application/pdf, image/png...), so any type
    content_type="*/*",
    description="The file, as an attachment with its stored name and type",
)
@blp.errors(404)
def download(evidence_id: int) -> Response:
    """Download the file's bytes (sent as an attachment, never inline)."""
    evidence, data = evidence_svc.content(db.session, current_user(), evidence_id)
    return attachment(data, evidence.content_type, evidence.filename)
