"""API tokens: created by their user (web page) or an operator (command line), shown once.

Only the SHA-256 of a token is stored; a request presents the secret and is matched by that
hash. A token acts as its user, narrowed by its scope: ``read`` may only read, ``write`` may also
change what the user's role allows, ``admin`` adds the administration endpoints (checklist
upload). The scope never widens the role: an admin-scope token of an auditor is an auditor.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from .. import policies
from ..limits import TOKEN_EXPIRY_DAYS_MAX, TOKEN_NAME_MAX
from ..models import ApiToken, User, id_of, table_of, utcnow
from ..vocabulary import TokenScope, values
from . import Conflict, Forbidden, NotFound, Problems, ServiceError, events

SECRET_PREFIX = "kansa_"
DISPLAY_CHARS = 12  # the stored ``prefix``: enough to tell tokens apart, useless to an attacker
# last_used_at is written at most once per this interval, not on every request
LAST_USED_RESOLUTION = timedelta(minutes=1)


class InvalidToken(ServiceError):
    """The presented token is unknown, revoked or expired, or its user is deactivated."""

    status = 401


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh token secret: ``kansa_`` and 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def state(token: ApiToken, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _check_expiry(problems: Problems, days: int | None) -> None:
    if days is None:
        return
    if (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not 1 <= days <= TOKEN_EXPIRY_DAYS_MAX
    ):
        problems.add(
            "expires_days",
            f"expiry must be a whole number of days from 1 to {TOKEN_EXPIRY_DAYS_MAX}",
        )


def create(
    session: Session,
    owner: User,
    *,
    name: str,
    scope: str,
    expires_days: int | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``owner``; returns it with its secret, which is never shown again.

    ``actor`` is who asks (the owner on the web page, None for the command line, recorded as
    ``actor_label``); only the owner or an admin may create a token for an account.
    """
    if actor is not None and not policies.may_manage_tokens_of(actor, owner.id):
        raise Forbidden("you may only create tokens for your own account")
    problems = Problems()
    if not owner.active:
        problems.add("email", f"{owner.email} is deactivated: it cannot hold tokens")
    name = (name or "").strip()
    if not name:
        problems.add("name", "give the token a name, such as the system that will use it")
    elif len(name) > TOKEN_NAME_MAX:
        problems.add("name", f"the name is over {TOKEN_NAME_MAX} characters")
    if scope not in values(TokenScope):
        problems.add(
            "scope", f"unknown scope {scope!r}; scopes are {', '.join(values(TokenScope))}"
        )
    _check_expiry(problems, expires_days)
    problems.check()
    now = utcnow()
    secret = new_secret()
    token = ApiToken(
        user_id=id_of(owner),
        name=name,
        prefix=secret[:DISPLAY_CHARS],
        token_hash=hash_secret(secret),
        scope=scope,
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    session.add(token)
    session.flush()
    events.record(
        session,
        actor,
        "token.created",
        "api_token",
        token.id,
        after={
            "user_id": owner.id,
            "name": name,
            "prefix": token.prefix,
            "scope": scope,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
        actor_label=actor_label,
    )
    return token, secret


def get(session: Session, token_id: int) -> ApiToken:
    """The token with this id; ``NotFound`` when there is none."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    return token


def find(session: Session, key: str) -> ApiToken:
    """A token by id (digits) or by its displayed prefix, for the command line."""
    key = key.strip().rstrip("…").rstrip(".")
    if key.isdigit():
        return get(session, int(key))
    rows = session.exec(select(ApiToken).where(ApiToken.prefix == key[:DISPLAY_CHARS])).all()
    if not rows:
        raise NotFound(f"no API token with prefix {key!r}")
    if len(rows) > 1:
        ids = ", ".join(str(t.id) for t in rows)
        raise ServiceError(f"prefix {key!r} matches several tokens ({ids}); give the id", "token")
    return rows[0]


def get_own(session: Session, user: User, token_id: int) -> ApiToken:
    """One of ``user``'s own tokens; anyone else's is answered as if it did not exist (404)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(f"you have no API token {token_id}")
    return token


def for_user(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        ).all()
    )


def all_tokens(session: Session) -> list[tuple[ApiToken, str]]:
    """Every token with its user's e-mail, by e-mail then newest first."""
    return list(
        session.exec(
            select(ApiToken, User.email)
            .join(User, col(User.id) == ApiToken.user_id)
            .order_by(User.email, col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        ).all()
    )


def revoke(
    session: Session, actor: User | None, token: ApiToken, actor_label: str | None = None
) -> ApiToken:
    """Revoke a token at once; its owner or an admin may (``actor`` None: the command line)."""
    if actor is not None and not policies.may_manage_tokens_of(actor, token.user_id):
        raise Forbidden("you may only revoke your own tokens")
    if token.revoked_at is not None:
        raise Conflict(f"token {token.prefix}… was already revoked")
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    events.record(
        session,
        actor,
        "token.revoked",
        "api_token",
        token.id,
        before={"revoked_at": None},
        after={"user_id": token.user_id, "prefix": token.prefix, "revoked_at": token.revoked_at},
        actor_label=actor_label,
    )
    return token


def authenticate(session: Session, secret: str) -> tuple[ApiToken, User]:
    """The token and user a presented secret stands for; ``InvalidToken`` says why not.

    Notes the time of use, at most once per ``LAST_USED_RESOLUTION`` (the caller commits).
    """
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        raise InvalidToken("the bearer token is not a Kansa API token")
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret))
    ).first()
    if row is None:
        raise InvalidToken("the bearer token is not valid")
    token, user = row
    now = utcnow()
    if token.revoked_at is not None:
        raise InvalidToken(
            f"the token {token.prefix}… was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise InvalidToken(
            f"the token {token.prefix}… expired on {token.expires_at:%Y-%m-%d %H:%M} UTC"
        )
    if not user.active:
        raise InvalidToken(f"the account {user.email} is deactivated")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        table = table_of(ApiToken)
        session.execute(
            sa.update(table)
            .where(
                table.c.id == token.id,
                sa.or_(
                    table.c.last_used_at.is_(None),
                    table.c.last_used_at < now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
        set_committed_value(token, "last_used_at", now)
    return token, user
