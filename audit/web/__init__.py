"""The auditors' HTML pages: one blueprint per area, registered on the app here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, Response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .. import policies, vocabulary
from ..extensions import db, login_manager
from ..models import User
from ..services import ServiceError
from .helpers import sentence

#: A hook that answers an error in another shape (the API's JSON) when the request is its own.
ErrorOverride = Callable[[Exception], Response | None]

ERROR_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Not possible now",
    412: "Changed by someone else",
    413: "File too large",
    422: "Input not accepted",
}


def register(app: Flask, *, errors_elsewhere: ErrorOverride | None = None) -> None:
    """Attach the blueprints, the user loader, the template helpers and the HTML error pages.

    ``errors_elsewhere`` lets another part of the app (the REST API) answer an error itself
    when the request is its own; the pages answer everything else.
    """
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

    def page(title: str, message: str, code: int) -> tuple[str, int]:
        return render_template("error.html", title=title, message=message), code

    def other_door(error: Exception) -> Response | None:
        return errors_elsewhere(error) if errors_elsewhere is not None else None

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> Response | tuple[str, int]:
        return other_door(error) or page(
            "Form expired or not sent from Kansa",
            f"{error.description} Nothing was saved. Go back, reload the page and send "
            "the form again.",
            400,
        )

    @app.errorhandler(ServiceError)
    def refused(error: ServiceError) -> Response | tuple[str, int]:
        """A service refusal that no view turned into a form message: its own page and status."""
        db.session.rollback()
        return other_door(error) or page(
            ERROR_TITLES.get(error.status, "Not possible"), sentence(error.message), error.status
        )

    for code in (403, 404, 405, 413):
        app.register_error_handler(code, _http_error_page(code, other_door, page))


def _http_error_page(
    code: int,
    other_door: ErrorOverride,
    page: Callable[[str, str, int], tuple[str, int]],
) -> Callable[[HTTPException], Response | tuple[str, int]]:
    def handler(error: HTTPException) -> Response | tuple[str, int]:
        title = ERROR_TITLES[code]
        return other_door(error) or page(title, error.description or title, code)

    return handler


def _template_helpers(app: Flask) -> None:
    zone = ZoneInfo(app.config["TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(moment: datetime | None) -> str:
        """A stored UTC time in the configured zone, e.g. 2026-11-26 13:05 JST."""
        if moment is None:
            return "—"
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    app.template_filter("sentence")(sentence)
    app.jinja_env.globals["today"] = lambda: datetime.now(zone).date()
    # the policies and vocabularies, so that templates ask them instead of repeating tuples
    for name in (
        "accepts_changes",
        "is_open",
        "is_overdue",
        "needs_comment",
        "may_create_assessment",
        "may_manage_subcontractors",
        "may_manage_users",
        "may_manage_webhooks",
    ):
        app.jinja_env.globals[name] = getattr(policies, name)
    for vocabulary_name in (
        "AssessmentState",
        "AnswerStatus",
        "DeliveryState",
        "Rating",
        "Role",
        "Severity",
    ):
        app.jinja_env.globals[vocabulary_name] = getattr(vocabulary, vocabulary_name)
