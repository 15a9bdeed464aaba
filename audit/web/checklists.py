"""Checklist pages: the published versions, and one version's items in English or Japanese."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, current_app, render_template, request
from flask_login import login_required

from ..checklists import FRAMEWORK_LABELS
from ..extensions import db
from ..services import checklists as service
from ..services.subcontractors.schedule import zone

bp = Blueprint("checklists", __name__, url_prefix="/checklists")

LANGUAGES = {"en": "English", "ja": "日本語"}


def _lang() -> str:
    """The requested language of checklist texts: ``ja`` or ``en`` (anything else is English)."""
    lang = request.args.get("lang", "en")
    return lang if lang in LANGUAGES else "en"


@bp.route("/")
@login_required
def list_() -> str:
    """Every published checklist with its versions."""
    rows = service.versions(db.session)
    grouped = []
    for _, group in groupby(rows, key=lambda row: row[0].id):
        pairs = list(group)
        grouped.append((pairs[0][0], [version for _, version in pairs]))
    return render_template(
        "checklists/list.html",
        checklists=grouped,
        tz=zone(current_app.config["TIMEZONE"]),
    )


@bp.route("/<slug>/<version>")
@login_required
def version(slug: str, version: str) -> str:
    """One published version's sections and items, in English or (``?lang=ja``) Japanese."""
    row = service.get_version(db.session, slug, version)
    lang = _lang()
    return render_template(
        "checklists/version.html",
        row=row,
        definition=service.definition_for(row),
        lang=lang,
        other_lang="en" if lang == "ja" else "ja",
        languages=LANGUAGES,
        frameworks=FRAMEWORK_LABELS,
        tz=zone(current_app.config["TIMEZONE"]),
    )
