"""Idempotency keys: a retried API POST with the same key gets the first answer, not a second row.

The API layer (``audit.api.idempotency``) calls ``claim`` before the endpoint runs and
``complete`` or ``release`` after it answered, each in a short transaction of its own on a
session it opens for the purpose, so that every worker and process sharing the database sees a
key as soon as it is claimed. The unique constraint on (user, key) decides between two requests
that claim the same key at once: one runs, the other gets a 409.

A key is the user's: two users (or the same key sent by two users' tokens) never meet. A key
older than the retention is ignored and deleted; ``purge`` deletes every such key (on each claim,
and from ``flask idempotency purge``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ..limits import IDEMPOTENCY_IN_FLIGHT_SECONDS, IDEMPOTENCY_KEY_MAX
from ..models import IdempotencyKey, rows_affected, table_of, utcnow
from . import Conflict, ServiceError

#: the header a client sends the key in (named here for the messages)
HEADER = "Idempotency-Key"
_PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a key: what a retry gets again."""

    status: int
    headers: dict[str, str]
    body: bytes


class InvalidKey(ServiceError):
    """The key itself is malformed (empty, too long, not printable ASCII)."""

    status = 400


def check_key(key: str) -> str:
    """The key, or ``InvalidKey`` saying what is wrong with it."""
    if not key:
        raise InvalidKey(
            f"the {HEADER} header is empty: send 1 to {IDEMPOTENCY_KEY_MAX} "
            "printable ASCII characters (a UUID, say)",
            HEADER,
        )
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidKey(
            f"the {HEADER} header is {len(key)} characters long: at most "
            f"{IDEMPOTENCY_KEY_MAX} are accepted",
            HEADER,
        )
    if not set(key) <= _PRINTABLE:
        raise InvalidKey(
            f"the {HEADER} header may contain only printable ASCII characters "
            "(letters, digits, punctuation and spaces)",
            HEADER,
        )
    return key


def _find(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.exec(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).first()


def claim(
    session: Session,
    user_id: int,
    key: str,
    fingerprint: str,
    *,
    retention: timedelta,
    now: datetime | None = None,
) -> StoredAnswer | None:
    """Claim ``key`` for a request, or give the answer already stored for it.

    ``None``: the key is this request's now (committed); serve it, then ``complete`` or
    ``release``. A ``StoredAnswer``: the same request was answered before; replay it.
    Raises 422 when the key was used with another request (method, path or body), 409 while
    the first request with it is still being served.
    """
    check_key(key)
    now = now or utcnow()
    purge(session, retention=retention, now=now)
    for _ in range(3):
        found = _find(session, user_id, key)
        if found is None:
            session.add(
                IdempotencyKey(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now)
            )
            try:
                session.commit()
            except sa.exc.IntegrityError:
                session.rollback()  # another request claimed it first: look again
                continue
            return None
        if found.fingerprint != fingerprint:
            session.rollback()
            raise ServiceError(
                f"this {HEADER} was already used with a different request (another method, "
                "path or body) in the last "
                f"{_hours(retention)}: send a new key for a new request; nothing was done",
                HEADER,
            )
        if found.status is not None:
            answer = StoredAnswer(found.status, dict(found.headers or {}), found.body or b"")
            session.rollback()
            return answer
        if found.created_at > now - timedelta(seconds=IDEMPOTENCY_IN_FLIGHT_SECONDS):
            session.rollback()
            raise Conflict(
                f"a request with this {HEADER} is still being processed: wait for its answer, "
                "then retry with the same key to get it; nothing was done twice",
                HEADER,
            )
        # the request that claimed it died without answering: this one takes the key over
        taken = session.execute(
            sa.update(table_of(IdempotencyKey))
            .where(
                table_of(IdempotencyKey).c.id == found.id,
                table_of(IdempotencyKey).c.created_at == found.created_at,
                table_of(IdempotencyKey).c.status.is_(None),
            )
            .values(created_at=now)
        )
        session.commit()
        if rows_affected(taken) == 1:
            return None
    raise Conflict(f"a request with this {HEADER} is still being processed: retry shortly", HEADER)


def complete(session: Session, user_id: int, key: str, answer: StoredAnswer) -> None:
    """Store the answer the claimed key's request got, for retries to receive."""
    session.execute(
        sa.update(table_of(IdempotencyKey))
        .where(
            table_of(IdempotencyKey).c.user_id == user_id,
            table_of(IdempotencyKey).c.key == key,
        )
        .values(status=answer.status, headers=answer.headers, body=answer.body)
    )
    session.commit()


def release(session: Session, user_id: int, key: str) -> None:
    """Forget a claimed key whose request failed, so that a retry runs it afresh."""
    session.execute(
        sa.delete(table_of(IdempotencyKey)).where(
            table_of(IdempotencyKey).c.user_id == user_id,
            table_of(IdempotencyKey).c.key == key,
            table_of(IdempotencyKey).c.status.is_(None),
        )
    )
    session.commit()


def purge(session: Session, *, retention: timedelta, now: datetime | None = None) -> int:
    """Delete the keys older than ``retention``; how many were deleted (committed)."""
    cutoff = (now or utcnow()) - retention
    result = session.execute(
        sa.delete(table_of(IdempotencyKey)).where(col(IdempotencyKey.created_at) < cutoff)
    )
    session.commit()
    return rows_affected(result)


def _hours(retention: timedelta) -> str:
    hours = retention.total_seconds() / 3600
    return f"{hours:g} hours" if hours != 1 else "hour"
