"""People: creating accounts and checking passwords."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import policies
from ..limits import (
    EMAIL_MAX,
    EMAIL_PATTERN,
    PASSWORD_MIN,
    PERSON_NAME_MAX,
    SIGN_IN_FAILURES_PER_ACCOUNT,
    SIGN_IN_FAILURES_PER_ADDRESS,
    SIGN_IN_WINDOW_MINUTES,
)
from ..models import Assessment, AssessmentAuditor, LoginAttempt, User, id_of, utcnow
from ..vocabulary import Role, values
from . import Forbidden, NotFound, Problems, events
from .pages import last_change

#: An e-mail address as people and subcontractors' contacts must give it.
EMAIL = re.compile(rf"^{EMAIL_PATTERN}$")
#: Werkzeug's scrypt: salted and memory-hard. Tests pass a cheaper method (PASSWORD_HASH_METHOD).
DEFAULT_HASH_METHOD = "scrypt"


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    """A fixed hash to check when there is no such account, made with the accounts' method,
    so that an unknown e-mail costs what a wrong password does."""
    return generate_password_hash("kansa-timing-equaliser", method=method)


def hash_password(password: str, method: str = DEFAULT_HASH_METHOD) -> str:
    """Hash a password with ``method`` (scrypt unless the caller's configuration says otherwise)."""
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
    *,
    hash_method: str = DEFAULT_HASH_METHOD,
) -> User:
    """Create an account; refuses a bad e-mail, unknown role, short password or duplicate.

    ``actor`` is the admin who asks (None for the command line and demo data). Every problem is
    reported at once; a taken e-mail alone is a 409.
    """
    if actor is not None and not policies.may_manage_users(actor):
        raise Forbidden("only admins manage users")
    email = normalise_email(email)
    problems = Problems()
    if not EMAIL.match(email) or len(email) > EMAIL_MAX:
        problems.add("email", f"{email!r} is not a valid e-mail address")
    elif session.exec(select(User.id).where(User.email == email)).first() is not None:
        problems.add("email", f"a user with e-mail {email} already exists", "taken")
    _check_role(problems, role)
    if len(password) < PASSWORD_MIN:
        problems.add("password", f"the password needs at least {PASSWORD_MIN} characters")
    if name is not None and len(name.strip()) > PERSON_NAME_MAX:
        problems.add("name", f"the name is over {PERSON_NAME_MAX} characters")
    problems.check()
    user = User(
        email=email,
        name=(name or "").strip() or email.split("@")[0][:PERSON_NAME_MAX],
        role=role,
        password_hash=hash_password(password, hash_method),
    )
    session.add(user)
    session.flush()
    events.record(
        session, actor, "user.created", "user", user.id, after={"email": email, "role": role}
    )
    return user


def authenticate(
    session: Session, email: str, password: str, *, hash_method: str = DEFAULT_HASH_METHOD
) -> User | None:
    """The active user with this e-mail and password, or None.

    Either way costs one password check with ``hash_method``, the method accounts are hashed
    with, so the time taken does not tell whether the account exists.
    """
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None or not user.active:
        check_password_hash(_dummy_hash(hash_method), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    events.record(session, user, "user.signed_in", "user", user.id)
    return user


def count_users(session: Session) -> int:
    """How many accounts there are."""
    return session.exec(select(func.count()).select_from(User)).one()


def get(session: Session, user_id: int) -> User:
    """The account with this id; ``NotFound`` when there is none."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def by_email(session: Session, email: str) -> User | None:
    """The account with this e-mail address (as typed, any case), if there is one."""
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def directory() -> Any:
    """A SELECT of every account by e-mail, for the administration list."""
    return select(User).order_by(col(User.email), col(User.id))


def active_people(session: Session) -> list[User]:
    """Every active account, by name: the people who can be chosen for an assessment."""
    return list(session.exec(select(User).where(User.active).order_by(User.name)).all())


@dataclass(frozen=True)
class PeopleFilters:
    """The people directory's filters: a role, and active or not (None: either)."""

    role: str | None = None
    active: bool | None = None
    updated_since: datetime | None = None


def _colleague_ids(person_id: int) -> Any:
    """A SELECT of the ids of everyone who shares an assessment with ``person_id``.

    Sharing means being on the same assessment as one of its auditors, its reviewer or the
    person who planned it, in whichever of those parts each of the two is.
    """
    own = (
        select(Assessment.id)
        .where(
            sa.or_(
                col(Assessment.reviewer_id) == person_id,
                col(Assessment.created_by_id) == person_id,
                col(Assessment.id).in_(
                    select(AssessmentAuditor.assessment_id).where(
                        AssessmentAuditor.user_id == person_id
                    )
                ),
            )
        )
        .scalar_subquery()
    )
    return sa.union(
        select(AssessmentAuditor.user_id).where(col(AssessmentAuditor.assessment_id).in_(own)),
        select(Assessment.reviewer_id).where(col(Assessment.id).in_(own)),
        select(Assessment.created_by_id).where(col(Assessment.id).in_(own)),
    )


def visible_people(actor: User, filters: PeopleFilters | None = None) -> Any:
    """A SELECT of the accounts ``actor`` may see in the people directory, by name then id.

    Admins see every account. Anyone else sees themselves; every *active* person who can be
    an assessment's auditor or reviewer (``policies.may_be_assigned``), so a page or a token
    can fill ``auditor_ids`` and ``reviewer_id``; and everyone who shares an assessment with
    them (``_colleague_ids``), active or not, since their names stand in its history. Viewers
    of other people and inactive people they never worked with stay hidden. Whether the e-mail
    address may be shown is ``policies.may_see_email_of``, per row.
    """
    filters = filters or PeopleFilters()
    statement = select(User)
    if not policies.may_see_everyone(actor):
        assignable = [role for role in values(Role) if policies.may_be_assigned(role)]
        statement = statement.where(
            sa.or_(
                col(User.id) == actor.id,
                sa.and_(col(User.active).is_(True), col(User.role).in_(assignable)),
                col(User.id).in_(_colleague_ids(id_of(actor))),
            )
        )
    if filters.role is not None:
        statement = statement.where(User.role == filters.role)
    if filters.active is not None:
        statement = statement.where(col(User.active).is_(filters.active))
    if filters.updated_since is not None:
        statement = statement.where(last_change(User) >= filters.updated_since)
    return statement.order_by(col(User.name), col(User.id))


def person_for(session: Session, actor: User, user_id: int) -> User:
    """One account of the people directory, if ``actor`` may see it; ``NotFound`` otherwise.

    A hidden account and a missing one give the same answer, so ids cannot be probed.
    """
    found: User | None = session.exec(visible_people(actor).where(User.id == user_id)).first()
    if found is None:
        raise NotFound(f"no user {user_id}")
    return found


def _check_role(problems: Problems, role: str) -> None:
    if role not in values(Role):
        problems.add("role", f"unknown role {role!r}; roles are {', '.join(values(Role))}")


def change_user(session: Session, actor: User, user: User, *, role: str, active: bool) -> User:
    """Change a user's role or active flag (admins only; never locks the admin out)."""
    if not policies.may_manage_users(actor):
        raise Forbidden("only admins manage users")
    problems = Problems()
    _check_role(problems, role)
    if user.id == actor.id and (role != Role.ADMIN or not active):
        problems.add("role", "you cannot remove your own admin access")
    problems.check()
    before = {"role": user.role, "active": user.active}
    if (user.role, user.active) != (role, active):
        user.role, user.active, user.updated_at = role, active, utcnow()
    session.add(user)
    after = {"role": role, "active": active}
    if before != after:
        events.record(session, actor, "user.changed", "user", user.id, before=before, after=after)
    return user


# Sign-in throttling: failures counted over a sliding window, per account and per address.
THROTTLE_WINDOW = timedelta(minutes=SIGN_IN_WINDOW_MINUTES)


def sign_in_refusal(session: Session, email: str, address: str) -> str | None:
    """A message when this account or address has failed too often recently, else None."""
    email = normalise_email(email)
    since = utcnow() - THROTTLE_WINDOW
    last_success = session.exec(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email, col(LoginAttempt.succeeded).is_(True)
        )
    ).one()
    account_since = max(since, last_success) if last_success else since
    by_account = session.exec(
        select(func.count()).where(
            LoginAttempt.email == email,
            col(LoginAttempt.succeeded).is_(False),
            LoginAttempt.attempted_at > account_since,
        )
    ).one()
    minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
    if by_account >= SIGN_IN_FAILURES_PER_ACCOUNT:
        return (
            f"Too many failed sign-ins for this account. Wait {minutes} minutes and try again, "
            "or ask an administrator to check the account."
        )
    by_address = session.exec(
        select(func.count()).where(
            LoginAttempt.address == address,
            col(LoginAttempt.succeeded).is_(False),
            LoginAttempt.attempted_at > since,
        )
    ).one()
    if by_address >= SIGN_IN_FAILURES_PER_ADDRESS:
        return f"Too many failed sign-ins from your network address. Wait {minutes} minutes."
    return None


def record_attempt(session: Session, email: str, address: str, succeeded: bool) -> None:
    """Note a sign-in attempt, for the throttle (the caller commits)."""
    session.add(
        LoginAttempt(
            email=normalise_email(email)[:EMAIL_MAX], address=address[:64], succeeded=succeeded
        )
    )


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the user, or why not (``throttled`` when refused for too many)."""

    user: User | None
    refusal: str | None = None
    throttled: bool = False


def sign_in(
    session: Session,
    email: str,
    password: str,
    address: str,
    *,
    hash_method: str = DEFAULT_HASH_METHOD,
) -> SignIn:
    """Check a password sign-in against the throttle and the account, and note the attempt.

    Commits the attempt (and the sign-in event), so the throttle counts it across workers.
    ``hash_method`` is the configured one accounts are hashed with (see ``authenticate``).
    """
    refusal = sign_in_refusal(session, email, address)
    if refusal:
        return SignIn(None, refusal, throttled=True)
    user = authenticate(session, email, password, hash_method=hash_method)
    if user is None:
        session.rollback()
        record_attempt(session, email, address, succeeded=False)
        session.commit()
        return SignIn(None, "E-mail or password is not correct.")
    record_attempt(session, email, address, succeeded=True)
    session.commit()
    return SignIn(user)
