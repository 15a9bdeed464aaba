"""The auditors' HTML pages: one blueprint per area, registered on the app here."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from ..extensions import db, login_manager
from ..models import User


def register(app: Flask) -> None:
    """Attach the blueprints, the user loader and the HTML error pages."""
    from . import (
        admin,
        assessments,
        auth,
        checklists,
        findings,
        main,
        reports,
        subcontractors,
        tokens,
        webhooks,
    )

    for module in (
        auth,
        main,
        assessments,
        findings,
        subcontractors,
        checklists,
        admin,
        reports,
        webhooks,
        tokens,
    ):
        app.register_blueprint(module.bp)

    _template_helpers(app)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.active else None

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title="Form expired or not sent from Kansa",
            message=(
                f"{error.description} Nothing was saved. Go back, reload the page and send "
                "the form again."
            ),
        ), 400

    for code, title in ((403, "Not allowed"), (404, "Not found"), (413, "File too large")):
        app.register_error_handler(code, _error_page(code, title))


def _template_helpers(app: Flask) -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(app.config["TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(moment: datetime | None) -> str:
        """A stored UTC time in the configured zone, e.g. 2026-11-26 13:05 JST."""
        if moment is None:
            return "—"
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    app.jinja_env.globals["today"] = lambda: datetime.now(zone).date()

    @app.template_filter("sentence")
    def sentence(text: str | None) -> str:
        """A service message as a sentence: capital first letter, final full stop."""
        text = (text or "").strip()
        if not text:
            return ""
        text = text[0].upper() + text[1:]
        return text if text[-1] in ".!?" else text + "."

    _ = date


def _error_page(code: int, title: str):  # noqa: ANN202 - returns a Flask error handler
    def handler(error: Exception) -> tuple[str, int]:
        message = getattr(error, "description", "") or title
        return render_template("error.html", title=title, message=message), code

    return handler
