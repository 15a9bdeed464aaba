"""People: creating accounts and checking passwords."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..models import ROLES, LoginAttempt, User, utcnow
from . import Conflict, ServiceError, events

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 12
# A fixed hash to compare against when the account does not exist, so both paths cost the same.
_DUMMY_HASH = generate_password_hash("kansa-timing-equaliser")


def hash_password(password: str) -> str:
    """Hash with scrypt (salted, memory-hard) unless PASSWORD_HASH_METHOD says otherwise."""
    from flask import current_app, has_app_context

    method = "scrypt"
    if has_app_context():
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    name: str | None = None,
    actor: User | None = None,
) -> User:
    """Create an account; refuses a bad e-mail, unknown role, short password or duplicate."""
    email = normalise_email(email)
    if not EMAIL.match(email) or len(email) > 254:
        raise ServiceError(f"{email!r} is not a valid e-mail address", "email")
    if role not in ROLES:
        raise ServiceError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", "role")
    if len(password) < MIN_PASSWORD:
        raise ServiceError(f"the password needs at least {MIN_PASSWORD} characters", "password")
    if session.exec(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with e-mail {email} already exists", "email")
    user = User(
        email=email,
        name=(name or email.split("@")[0]).strip()[:120],
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    events.record(
        session, actor, "user.created", "user", user.id, after={"email": email, "role": role}
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (same cost either way)."""
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    events.record(session, user, "user.signed_in", "user", user.id)
    return user


def count_users(session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def change_user(session: Session, actor: User, user: User, *, role: str, active: bool) -> User:
    """Change a user's role or active flag (admins only; never locks the admin out)."""
    if actor.role != "admin":
        from . import Forbidden

        raise Forbidden("only admins manage users")
    if role not in ROLES:
        raise ServiceError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", "role")
    if user.id == actor.id and (role != "admin" or not active):
        raise ServiceError("you cannot remove your own admin access", "role")
    before = {"role": user.role, "active": user.active}
    user.role, user.active = role, active
    session.add(user)
    after = {"role": role, "active": active}
    if before != after:
        events.record(session, actor, "user.changed", "user", user.id, before=before, after=after)
    return user


# Sign-in throttling: failures counted over a sliding window, per account and per address.
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def sign_in_refusal(session: Session, email: str, address: str) -> str | None:
    """A message when this account or address has failed too often recently, else None."""
    email = normalise_email(email)
    since = utcnow() - THROTTLE_WINDOW
    last_success = session.exec(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded
        )
    ).one()
    account_since = max(since, last_success) if last_success else since
    by_account = session.exec(
        select(func.count()).where(
            LoginAttempt.email == email,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > account_since,
        )
    ).one()
    minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
    if by_account >= MAX_FAILURES_PER_ACCOUNT:
        return (
            f"Too many failed sign-ins for this account. Wait {minutes} minutes and try again, "
            "or ask an administrator to check the account."
        )
    by_address = session.exec(
        select(func.count()).where(
            LoginAttempt.address == address,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
    ).one()
    if by_address >= MAX_FAILURES_PER_ADDRESS:
        return f"Too many failed sign-ins from your network address. Wait {minutes} minutes."
    return None


def record_attempt(session: Session, email: str, address: str, succeeded: bool) -> None:
    session.add(
        LoginAttempt(email=normalise_email(email)[:254], address=address[:64], succeeded=succeeded)
    )
