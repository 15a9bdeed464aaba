"""The dashboard: my open work, ratings, recent activity and audits falling due."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from ..extensions import db
from ..services import worklists
from .helpers import local_today, me

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index() -> str:
    board = worklists.dashboard(db.session, me(), local_today(), current_app.config["TIMEZONE"])
    return render_template("main/index.html", board=board)
