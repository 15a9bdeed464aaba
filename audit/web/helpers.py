"""Small tools shared by the page blueprints: pagination, role checks, service errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from math import ceil
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_login import current_user, login_required
from sqlalchemy import func
from sqlmodel import Session, select

from ..services import ServiceError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Page:
    """One page of a list: its rows, its number, and how many rows there are in all."""

    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def url_args(self, number: int) -> dict[str, Any]:
        """Query arguments of the current request with another page number."""
        args = request.args.to_dict()
        args["page"] = number
        return args


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def paginate(session: Session, statement: Any, per_page: int | None = None) -> Page:
    """Run ``statement`` for the requested page: two queries, whatever the number of rows."""
    per_page = per_page or current_app.config["PAGE_SIZE"]
    number = page_number()
    counted = statement.order_by(None).subquery()
    total = session.exec(select(func.count()).select_from(counted)).one()
    rows = session.exec(statement.limit(per_page).offset((number - 1) * per_page)).all()
    return Page(list(rows), number, per_page, total)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Signed in, and with one of ``roles``; anything else is 403."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403, "Your role does not allow this.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def form_errors_from(error: ServiceError, form: Any) -> None:
    """Put a service refusal on the form field it names (or the form as a whole)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def local_today() -> date:
    """Today's date in the configured time zone (Asia/Tokyo by default)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()
