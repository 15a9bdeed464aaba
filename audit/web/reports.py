"""The PDF report of an assessment, for signed-in users who may see the assessment.

Served ``inline``: people open the report in the browser's PDF viewer to read it, and the
``filename`` parameter (the report id) still names the file when they save it. An approved
assessment's report carries its content hash as ETag, so a browser revalidating gets a 304
without the bytes; a draft is marked ``no-cache`` so a stale draft is never shown.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import login_required
from werkzeug.wrappers import Response

from ..extensions import db
from ..reports import service as reports
from .helpers import me

bp = Blueprint("reports", __name__)


@bp.route("/assessments/<int:assessment_id>/report.pdf")
@login_required
def assessment_pdf(assessment_id: int) -> Response:
    """The report as ``application/pdf``; ``?lang=ja`` for the Japanese report."""
    made = reports.report(
        db.session,
        me(),
        assessment_id,
        request.args.get("lang") or "en",
        current_app.config["TIMEZONE"],
    )
    response = current_app.response_class(made.pdf, mimetype="application/pdf")
    response.headers.set("Content-Disposition", "inline", filename=made.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Kansa-Report-Id"] = made.report_id
    if made.final:
        response.set_etag(made.content_hash)
        response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
        response.headers["X-Kansa-Report-Cache"] = "hit" if made.cached else "miss"
        return response.make_conditional(request)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
