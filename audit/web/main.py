"""The signed-in home page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from ..extensions import db
from ..services import checklists

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index() -> str:
    return render_template("main/index.html", versions=checklists.versions(db.session))
