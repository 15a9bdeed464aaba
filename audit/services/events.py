"""Recording audit events: each holds the hash of the previous one, so edits show."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..models import AuditEvent, User, id_of, utcnow
from . import Forbidden

GENESIS = "0" * 64


def hashed_text(event: AuditEvent) -> str:
    """The exact text an event's hash is the SHA-256 of (UTF-8), documented for the API.

    A JSON object with the keys sorted, no spaces (separators ``,`` and ``:``), non-ASCII
    characters as themselves: ``prev`` (the previous event's hash, 64 zeros for the first),
    ``at`` (``occurred_at`` in ISO 8601 with microseconds and ``+00:00``), ``actor_id``,
    ``actor``, ``action``, ``object`` (``[object_type, object_id]``), ``assessment_id``,
    ``before`` and ``after``.
    """
    body = {
        "prev": event.prev_hash,
        "at": _iso(event.occurred_at),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "object": [event.object_type, event.object_id],
        "assessment_id": event.assessment_id,
        "before": event.before,
        "after": event.after,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_digest(event: AuditEvent) -> str:
    """SHA-256 over the event's content and the previous event's hash (``hashed_text``)."""
    return hashlib.sha256(hashed_text(event).encode("utf-8")).hexdigest()


def occurred_text(event: AuditEvent) -> str:
    """``occurred_at`` as the hash has it: ISO 8601, microseconds, ``+00:00``."""
    return _iso(event.occurred_at)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def record(
    session: Session,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    assessment_id: int | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction (it commits with the change it records)."""
    last = _tail(session)
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor else None,
        actor=actor.email if actor else (actor_label or "system"),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        assessment_id=assessment_id,
        before=_jsonable(before),
        after=_jsonable(after),
        prev_hash=last or GENESIS,
        hash="",
    )
    event.hash = event_digest(event)
    session.add(event)
    session.flush()
    session.info[_TAIL] = (*_transaction_of(session), event.hash)
    return event


_TAIL = "kansa.events.tail"


def _transaction_of(session: Session) -> tuple[object, object]:
    """The transaction and savepoint under way (a savepoint rolled back drops its events).

    The objects themselves, not their ``id()``: a new transaction may be allocated where an
    ended one was, but not while the tail still holds the ended one.
    """
    return (session.get_transaction(), session.get_nested_transaction())


def _tail(session: Session) -> str | None:
    """The hash of the newest event, which the next one chains to.

    The first event of a transaction reads it (on PostgreSQL after taking the appenders' lock,
    so the chain never forks; the lock is held until commit). Within that transaction nobody
    else can append (the lock; on SQLite the write lock the first insert took), so the hash of
    the event this session appended last is the tail: later events of the transaction, such as
    one per saved answer, need no query. A commit or rollback begins a new transaction, which
    reads it again.
    """
    held = session.info.get(_TAIL)
    transaction, savepoint = _transaction_of(session)
    if held is not None and held[0] is transaction and held[1] is savepoint:
        return str(held[2])
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
    last: str | None = session.exec(
        select(AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)
    ).first()
    return last


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    plain: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return plain


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain: ``bad_id`` names the first event that fails."""

    ok: bool
    count: int
    head: str
    bad_id: int | None = None
    reason: str | None = None


def verify(session: Session, batch: int = 5000) -> Verification:
    """Recompute every event's hash in order and check each link to the previous event.

    An edited event fails its own hash; a deleted or reordered one breaks the next link.
    Removing events from the end leaves a shorter valid chain: compare ``head`` and ``count``
    with the values recorded earlier (``audit verify --head``) to catch that too.
    """
    previous = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.id) > last_id)
            .order_by(col(AuditEvent.id))
            .limit(batch)
        ).all()
        if not rows:
            return Verification(True, count, previous)
        for event in rows:
            if event.prev_hash != previous:
                return Verification(
                    False,
                    count,
                    previous,
                    event.id,
                    "its link to the previous event is broken (an event before it was "
                    "deleted, inserted or reordered)",
                )
            if event_digest(event) != event.hash:
                return Verification(
                    False,
                    count,
                    previous,
                    event.id,
                    "its content does not match its hash (it was edited)",
                )
            previous = event.hash
            count += 1
            last_id = id_of(event)
        session.expunge_all()


def id_of_hash(session: Session, digest: str) -> int | None:
    """The id of the event with this hash, if the chain holds one."""
    return session.exec(select(AuditEvent.id).where(AuditEvent.hash == digest)).first()


def recent(session: Session, limit: int = 12, condition: Any = True) -> list[AuditEvent]:
    """The latest events of the whole programme, newest first (those meeting ``condition``).

    The dashboard passes ``visibility.Scope.events``: only events of assessments in sight.
    """
    return list(
        session.exec(
            select(AuditEvent).where(condition).order_by(col(AuditEvent.id).desc()).limit(limit)
        ).all()
    )


def for_assessment(session: Session, assessment_id: int, limit: int = 20) -> list[AuditEvent]:
    """The latest events of one assessment, newest first."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.assessment_id == assessment_id)
            .order_by(col(AuditEvent.id).desc())
            .limit(limit)
        ).all()
    )


def of_assessment(assessment_id: int, since: datetime | None = None) -> Any:
    """A SELECT of one assessment's events, oldest first (the caller checks it may be read).

    ``since``: only the events that occurred then or later. The chain runs through the whole
    trail, so an event's ``prev_hash`` may name an event of another assessment; each event's
    own hash can still be checked.
    """
    statement = select(AuditEvent).where(AuditEvent.assessment_id == assessment_id)
    if since is not None:
        statement = statement.where(col(AuditEvent.occurred_at) >= since)
    return statement.order_by(col(AuditEvent.id))


@dataclass(frozen=True)
class Batch:
    """Events after a cursor: ``next`` resumes after the last of them, ``more`` if any remain."""

    events: list[AuditEvent]
    next: int
    more: bool


def after(session: Session, actor: User, cursor: int, limit: int) -> Batch:
    """The events with an id above ``cursor``, oldest first, at most ``limit`` (admins only).

    Ids only grow and every event holds its predecessor's hash, so a consumer that keeps the
    last cursor and hash it saw can follow the whole chain in batches, and check each link.
    """
    if not policies.may_read_audit_trail(actor):
        raise Forbidden("only admins read the whole audit trail")
    rows = list(
        session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.id) > cursor)
            .order_by(col(AuditEvent.id))
            .limit(limit + 1)
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Batch(rows, id_of(rows[-1]) if rows else cursor, more)
