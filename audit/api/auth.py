"""Bearer-token authentication and scope checks for every API blueprint.

Only ``Authorization: Bearer <token>`` authorizes an API request. A signed-in browser session
is ignored here (its cookie is never read), so a page cannot be tricked into writing through
the API, and the API needs no CSRF token.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_smorest import abort

from .. import policies
from ..extensions import db
from ..models import ApiToken, User
from ..services import tokens as token_service
from ..services import visibility
from . import ratelimit
from .spec import default_scope

CHALLENGE = 'Bearer realm="kansa"'


def required_scope() -> str:
    """The scope the matched endpoint needs: its ``@blp.scope`` or read for GET, else write."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    method = "get" if request.method == "HEAD" else request.method.lower()
    func = getattr(view_class, method, None) if view_class is not None else view
    declared = getattr(func, "_kansa_scope", None)
    return str(declared) if declared else default_scope(request.method)


def authenticate() -> None:
    """``before_request`` of the API blueprints: 401 without a valid token, 403 out of scope.

    429 (``ratelimit``) once this address has sent too many requests without a valid token,
    or this token too many requests.
    """
    if request.method == "OPTIONS":
        return
    ratelimit.check_address()  # before the token is looked at: guessing stops at the limit
    header = request.headers.get("Authorization", "").strip()
    if not header:
        abort(
            401,
            message="authentication required: send Authorization: Bearer <token> "
            "(create a token on the API tokens page or with `flask tokens create`)",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(
            401,
            message="the Authorization header must be 'Bearer <token>'",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    session = db.session
    try:
        token, user = token_service.authenticate(session, secret)
        session.commit()  # last_used_at, at most once a minute
    except token_service.InvalidToken as exc:
        session.rollback()
        abort(
            401,
            message=exc.message,
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    g.api_token, g.api_user = token, user
    ratelimit.check_token()
    needed = required_scope()
    if not policies.scope_allows(token.scope, needed):
        abort(
            403,
            message=f"this token's scope is {token.scope}; this request needs a "
            f"{needed}-scope token (the scope never exceeds the user's role)",
        )


def current_user() -> User:
    """The user the request's token acts for."""
    user: User = g.api_user
    return user


def sight() -> visibility.Scope:
    """What the token's user may see (``KANSA_VISIBILITY``): pass it to every list service."""
    return visibility.scope(db.session, current_user())


def current_token() -> ApiToken:
    """The token of the current request."""
    token: ApiToken = g.api_token
    return token
