"""The PDF report of an assessment (being built)."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import login_required

bp = Blueprint("reports", __name__)


@bp.route("/assessments/<int:assessment_id>/report.pdf")
@login_required
def assessment_pdf(assessment_id: int) -> str:
    abort(404)
