"""Small tools the page blueprints share: the signed-in user, pages of lists, policy checks,
and putting a service's refusal on a form.

Views decide nothing here: a policy (``audit.policies``) says who may open a page, and a service
says what is wrong with a submitted form. These helpers only carry the answer to the page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar, cast

from flask import abort, current_app, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from ..extensions import db
from ..models import User
from ..services import ServiceError, pages, visibility
from ..services.subcontractors.schedule import today_in

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def me() -> User:
    """The signed-in user (the object itself, not Flask-Login's proxy)."""
    return cast(User, current_user._get_current_object())


def sight() -> visibility.Scope:
    """What the signed-in user may see (``KANSA_VISIBILITY``): pass it to every list service."""
    return visibility.scope(db.session, me())


def sentence(text: str | None) -> str:
    """A service message as a sentence: capital first letter, final full stop."""
    text = (text or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def local_today() -> date:
    """Today's date in the configured time zone (Asia/Tokyo by default)."""
    return today_in(current_app.config["TIMEZONE"])


# ------------------------------------------------------------------------------ pages of lists


class Page(pages.Page):
    """A page of a list as a template shows it: with links to the pages around it."""

    def url_args(self, number: int) -> dict[str, Any]:
        """Query arguments of the current request with another page number."""
        args: dict[str, Any] = request.args.to_dict()
        args["page"] = number
        return args


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < pages.MAX_PAGE else 1


def paginate(statement: Any, per_page: int | None = None) -> Page:
    """The requested page of a service's SELECT: two queries, whatever the number of rows."""
    found = pages.page_of(
        db.session, statement, page_number(), per_page or current_app.config["PAGE_SIZE"]
    )
    return Page(found.items, found.number, found.per_page, found.total)


# ------------------------------------------------------------------------------ who may open a page


def allowed_by(policy: Callable[[User], bool]) -> Callable[[F], F]:
    """Signed in, and allowed by ``policy`` (a function of ``audit.policies``); else 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not policy(me()):
                abort(403, "Your role does not allow this.")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


# ------------------------------------------------------------------------------ forms


def place_refusal(form: FlaskForm, error: ServiceError) -> None:
    """Put each problem of a refusal beside the field it names, the rest above the form.

    A field that already carries a message of its own (a date that could not be read, say)
    keeps only that one: the service saw it empty.
    """
    unreadable = {name for name in form.errors if name}
    for problem in error.problems:
        field = getattr(form, problem.field, None) if problem.field else None
        # a hidden field (the revision the page was built from) shows nothing: its problem,
        # a stale copy, goes above the form
        shown = getattr(field, "type", "") != "HiddenField"
        if field is not None and hasattr(field, "errors") and shown:
            if problem.field not in unreadable:
                field.errors = [*field.errors, sentence(problem.message)]
        else:
            form.form_errors.append(sentence(problem.message))
    if not error.problems:
        form.form_errors.append(sentence(error.message))


def form_revision(form: FlaskForm) -> int | None:
    """The revision a page's hidden ``revision`` field carries (None if it sent none)."""
    raw = form.revision.data
    return int(raw) if isinstance(raw, str | int) and str(raw).isdigit() else None


def submit_form(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, int]:
    """Run a submitted form through its service and commit: ``(result, status)``.

    ``(None, 200)`` when the form was not submitted. The service is called even when some
    fields could not be read (they reach it empty), so the page shows every problem at once;
    nothing is kept unless the whole form was valid. A refusal that names fields goes onto the
    form with the service's status (422, or 409 for a clash); any other refusal (403, 404, 409
    about the thing itself) is raised to the error page. ``action`` must not commit.
    """
    if not form.is_submitted():
        return None, 200
    readable = form.validate()
    try:
        result = action()
    except ServiceError as exc:
        db.session.rollback()
        if not exc.problems:
            raise
        place_refusal(form, exc)
        return None, exc.status
    if not readable:
        db.session.rollback()
        return None, 422
    db.session.commit()
    return result, 200
