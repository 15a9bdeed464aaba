"""Webhooks: an outbox written in the same transaction as the change, sent by workers.

A delivery row is added by ``enqueue`` inside the transaction that submits, approves or returns
an assessment or changes a finding, so a delivery exists exactly when the change does. Workers
(``flask --app wsgi webhooks worker``; run as many as you like) claim rows with a conditional
UPDATE, and on PostgreSQL pick candidates with ``FOR UPDATE SKIP LOCKED``, so no row is sent by
two workers at once. A worker sends the batch it claimed from a pool of threads, each with its
own database session, with at most ``per_destination`` requests in flight to one receiver
(host:port): a receiver that never answers holds its own deliveries, not the others'. Every
request has a connect and a read timeout and a total deadline (``outbound``), and its lease
is renewed when it starts, for longer than that deadline. Failures are retried with
exponential backoff, then marked failed.

Receivers must be public (``outbound``: checked at registration, at every change of the URL
and again at every delivery, after resolving the name) unless the operator allows their
network in ``KANSA_WEBHOOK_ALLOW_PRIVATE``.

A paused webhook gets no new deliveries, and the ones it has stay pending but *held*: workers
do not claim them until it is resumed, which makes them due at once. Deleting a webhook keeps
its row (``deleted_at``) and cancels its undelivered deliveries.

Each request carries:

* ``X-Kansa-Event``: the event name, e.g. ``assessment.approved``;
* ``X-Kansa-Delivery``: the delivery id (a UUID; the same on every retry, for de-duplication);
* ``X-Kansa-Signature``: ``t=<unix time>,v1=<hex>`` where ``v1`` is HMAC-SHA256 with the
  webhook's secret over ``"<t>." + body``. For a grace period after the secret is rotated the
  header carries a second ``v1`` made with the previous secret (``t=…,v1=<new>,v1=<old>``), so
  a receiver still holding the old one verifies too. Receivers check it with
  ``verify_signature``, which accepts any one ``v1`` that matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets as random_secrets
import socket
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..config import parse_networks
from ..limits import DESCRIPTION_MAX, WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN, WEBHOOK_URL_MAX
from ..models import User, Webhook, WebhookDelivery, id_of, rows_affected, table_of, utcnow
from ..vocabulary import DeliveryState, WebhookEvent, values
from . import Conflict, Forbidden, NotFound, Problems, StaleRevision, revisions
from . import events as audit_events
from .outbound import AddressPolicy, Timeouts, check_url, post, target_of
from .pages import last_change

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = 30  # seconds before the first retry; doubles each time
MAX_DELAY = 6 * 3600
USER_AGENT = "Kansa-Webhooks/1"
#: what a cancelled delivery records as its last error
CANCELLED_NOTE = "cancelled: its webhook was deleted before it was delivered"


@dataclass(frozen=True)
class Settings:
    """How webhooks are checked and sent: the caller builds it from the app's configuration.

    The defaults are the strict ones: public https receivers only, 5 s to connect, 10 s per
    read, 15 s in all, 8 threads, 2 requests in flight per receiver, 24 h of secret grace.
    """

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    threads: int = 8
    per_destination: int = 2
    grace: timedelta = timedelta(hours=24)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """The settings of an app's configuration (``WEBHOOK_*``, ``KANSA_ENV``)."""
        networks = parse_networks(
            config.get("WEBHOOK_ALLOW_PRIVATE"), "KANSA_WEBHOOK_ALLOW_PRIVATE"
        )
        return cls(
            policy=AddressPolicy.of(networks, config.get("KANSA_ENV") == "development"),
            timeouts=Timeouts(
                connect=float(config.get("WEBHOOK_CONNECT_TIMEOUT", 5.0)),
                read=float(config.get("WEBHOOK_READ_TIMEOUT", 10.0)),
                deadline=float(config.get("WEBHOOK_DEADLINE", 15.0)),
            ),
            threads=int(config.get("WEBHOOK_THREADS", 8)),
            per_destination=int(config.get("WEBHOOK_PER_DESTINATION", 2)),
            grace=timedelta(hours=int(config.get("WEBHOOK_SECRET_GRACE_HOURS", 24))),
        )

    @property
    def lease(self) -> timedelta:
        """How long a claimed row is a worker's: well over one request's deadline."""
        return timedelta(seconds=2 * self.timeouts.deadline + 30)


STRICT = Settings()
#: the lease of the default settings (60 s)
LEASE = STRICT.lease


# ------------------------------------------------------------------------------ registering


def require_admin(actor: User) -> None:
    """Refuse (403) anyone who may not manage webhooks."""
    if not policies.may_manage_webhooks(actor):
        raise Forbidden("only admins manage webhooks")


def _check_url(problems: Problems, url: str, settings: Settings) -> str:
    url = (url or "").strip()
    if len(url) > WEBHOOK_URL_MAX:
        problems.add("url", f"the URL is over {WEBHOOK_URL_MAX:,} characters")
        return url
    reason = check_url(url, settings.policy)
    if reason is not None:
        problems.add("url", reason)
    return url


def _check_secret(problems: Problems, secret: str, field_name: str = "secret") -> str:
    secret = secret or ""
    if not WEBHOOK_SECRET_MIN <= len(secret) <= WEBHOOK_SECRET_MAX:
        problems.add(
            field_name,
            f"the secret must be {WEBHOOK_SECRET_MIN} to {WEBHOOK_SECRET_MAX} characters",
        )
    return secret


def _check_events(problems: Problems, events: Iterable[str]) -> list[str]:
    chosen = sorted(set(events or ()))
    if not chosen:
        problems.add("events", "choose at least one event")
    for event in chosen:
        if event not in values(WebhookEvent):
            problems.add(
                "events",
                f"unknown event {event!r}; events are {', '.join(values(WebhookEvent))}",
            )
    return chosen


def _check_description(problems: Problems, description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        problems.add("description", f"the description is over {DESCRIPTION_MAX} characters")
    return description


def register(
    session: Session,
    actor: User,
    *,
    url: str,
    secret: str,
    events: Iterable[str],
    description: str = "",
    settings: Settings = STRICT,
) -> Webhook:
    """Register a webhook (admins only); its URL must pass the address policy."""
    require_admin(actor)
    problems = Problems()
    url = _check_url(problems, url, settings)
    secret = _check_secret(problems, secret)
    chosen = _check_events(problems, events)
    description = _check_description(problems, description)
    problems.check()
    hook = Webhook(
        url=url,
        secret=secret,
        events=chosen,
        description=description,
        created_by_id=actor.id,
    )
    session.add(hook)
    session.flush()
    audit_events.record(
        session,
        actor,
        "webhook.registered",
        "webhook",
        hook.id,
        after={"url": url, "events": chosen},
    )
    return hook


def get(session: Session, actor: User, hook_id: int) -> Webhook:
    """One webhook that is not deleted (admins only; 403, then 404)."""
    require_admin(actor)
    hook = session.get(Webhook, hook_id)
    if hook is None or hook.deleted_at is not None:
        raise NotFound(f"no webhook {hook_id}")
    return hook


def _move_revision(session: Session, hook: Webhook, expected: int | None, **values: Any) -> None:
    """Compare-and-set: move the revision on and write ``values``, or refuse a stale copy (412);
    a webhook deleted meanwhile is a 404."""
    try:
        revisions.bump(
            session,
            hook,
            expected,
            f"webhook {hook.id}",
            where=table_of(Webhook).c.deleted_at.is_(None),
            **values,
        )
    except StaleRevision:
        current = session.get(Webhook, hook.id)  # read afresh by the refusal
        if current is None or current.deleted_at is not None:
            raise NotFound(f"no webhook {hook.id}: it was deleted meanwhile") from None
        raise
    session.refresh(hook)


def _refuse_stale(hook: Webhook, expected: int | None) -> None:
    if expected is not None and expected != hook.revision:
        raise StaleRevision(
            f"your copy of webhook {hook.id} is out of date ({revisions.describe_copy(expected)}, "
            f"the saved one is {hook.revision}); nothing was saved",
            "revision",
        )


def _pending(hook_id: int) -> Any:
    table = table_of(WebhookDelivery)
    return sa.and_(table.c.webhook_id == hook_id, table.c.state == DeliveryState.PENDING)


def update(
    session: Session,
    actor: User,
    hook_id: int,
    expected_revision: int | None,
    *,
    url: str | None = None,
    events: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    settings: Settings = STRICT,
) -> Webhook:
    """Change a webhook's URL, events, description or whether it is active (admins only).

    ``None`` leaves a field as it is. A new URL passes the address policy like a new webhook's.
    Pausing holds its undelivered deliveries (workers leave them); resuming makes them due now.
    ``expected_revision`` is the revision the caller's copy shows (``None``: whatever is saved).
    """
    hook = get(session, actor, hook_id)
    problems = Problems()
    wanted: dict[str, Any] = {}
    if url is not None:
        wanted["url"] = _check_url(problems, url, settings)
    if events is not None:
        wanted["events"] = _check_events(problems, events)
    if description is not None:
        wanted["description"] = _check_description(problems, description)
    if active is not None:
        wanted["active"] = bool(active)
    problems.check()  # who may, then the input, then whether the copy is stale
    _refuse_stale(hook, expected_revision)
    before = {name: getattr(hook, name) for name in wanted}
    changed = {name: value for name, value in wanted.items() if before[name] != value}
    if not changed:
        return hook
    _move_revision(session, hook, expected_revision, **changed)
    after: dict[str, Any] = dict(changed)
    deliveries = table_of(WebhookDelivery)
    if changed.get("active") is True:
        released = session.execute(
            sa.update(deliveries)
            .where(_pending(id_of(hook)))
            .values(next_attempt_at=utcnow(), updated_at=utcnow())
        )
        after["released_deliveries"] = rows_affected(released)
    elif changed.get("active") is False:
        after["held_deliveries"] = session.execute(
            sa.select(sa.func.count()).select_from(deliveries).where(_pending(id_of(hook)))
        ).scalar_one()
    audit_events.record(
        session,
        actor,
        "webhook.changed",
        "webhook",
        hook.id,
        before={name: before[name] for name in changed},
        after=after,
    )
    return hook


def set_active(
    session: Session, actor: User, hook_id: int, active: bool, expected_revision: int | None = None
) -> Webhook:
    """Pause (holding what is queued) or resume (releasing it) a webhook."""
    return update(session, actor, hook_id, expected_revision, active=active)


def delete(session: Session, actor: User, hook_id: int, expected_revision: int | None) -> int:
    """Delete a webhook (admins only): it is gone from lists and gets nothing more; every
    delivery it had not received yet is cancelled. Returns how many were cancelled."""
    hook = get(session, actor, hook_id)
    _refuse_stale(hook, expected_revision)
    before = {"url": hook.url, "events": hook.events, "active": hook.active}
    _move_revision(
        session,
        hook,
        expected_revision,
        active=False,
        deleted_at=utcnow(),
        secret="",
        previous_secret=None,
        previous_secret_expires_at=None,
    )
    cancelled = rows_affected(
        session.execute(
            sa.update(table_of(WebhookDelivery))
            .where(_pending(id_of(hook)))
            .values(
                state=DeliveryState.CANCELLED,
                locked_by=None,
                locked_until=None,
                last_error=CANCELLED_NOTE,
                updated_at=utcnow(),
            )
        )
    )
    audit_events.record(
        session,
        actor,
        "webhook.deleted",
        "webhook",
        hook.id,
        before=before,
        after={"cancelled_deliveries": cancelled},
    )
    return cancelled


def rotate_secret(
    session: Session,
    actor: User,
    hook_id: int,
    expected_revision: int | None,
    *,
    secret: str | None = None,
    settings: Settings = STRICT,
) -> tuple[Webhook, str]:
    """Give a webhook a new signing secret (``secret``, or a random one); returns it once.

    The old secret keeps signing beside the new one for ``settings.grace`` (a second ``v1`` in
    X-Kansa-Signature), so the receiver can switch without losing a delivery. A rotation during
    a grace period keeps only the secret just replaced as the previous one.
    """
    hook = get(session, actor, hook_id)
    problems = Problems()
    generated = secret is None or secret == ""
    new = random_secrets.token_urlsafe(32) if generated else _check_secret(problems, secret or "")
    if not generated and hmac.compare_digest(new.encode(), hook.secret.encode()):
        problems.add("secret", "the new secret must differ from the current one")
    problems.check()  # who may, then the input, then whether the copy is stale
    _refuse_stale(hook, expected_revision)
    now = utcnow()
    until = now + settings.grace if settings.grace > timedelta(0) else None
    _move_revision(
        session,
        hook,
        expected_revision,
        secret=new,
        previous_secret=hook.secret if until else None,
        previous_secret_expires_at=until,
    )
    audit_events.record(
        session,
        actor,
        "webhook.secret_rotated",
        "webhook",
        hook.id,
        after={"generated": generated, "previous_secret_valid_until": until},
    )
    return hook, new


def retry(session: Session, actor: User, delivery_id: int) -> WebhookDelivery:
    """Send a failed delivery again from the start (admins only).

    A delivery of a paused webhook stays held until it is resumed; one whose webhook was
    deleted cannot be retried.
    """
    require_admin(actor)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    if delivery.state == DeliveryState.DELIVERED:
        raise Conflict("this delivery already succeeded")
    if delivery.state == DeliveryState.CANCELLED:
        raise Conflict("this delivery was cancelled: its webhook was deleted")
    delivery.state, delivery.attempts = DeliveryState.PENDING, 0
    delivery.next_attempt_at, delivery.locked_until = utcnow(), None
    delivery.updated_at = utcnow()
    session.add(delivery)
    return delivery


# ------------------------------------------------------------------------------ the outbox


def enqueue(session: Session, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Add a delivery for every active webhook that wants ``event``, in the caller's transaction."""
    if event not in values(WebhookEvent):
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = session.exec(
        select(Webhook).where(Webhook.active, col(Webhook.deleted_at).is_(None))
    ).all()
    made = []
    now = utcnow()
    for hook in hooks:
        if event not in hook.events:
            continue
        delivery_id = str(uuid.uuid4())
        delivery = WebhookDelivery(
            delivery_id=delivery_id,
            webhook_id=id_of(hook),
            event=event,
            payload={
                "id": delivery_id,
                "event": event,
                "occurred_at": now.isoformat(timespec="seconds"),
                "data": json.loads(json.dumps(data, default=str)),
            },
            next_attempt_at=now,
        )
        session.add(delivery)
        made.append(delivery)
    if made:
        session.flush()
    return made


def _mac(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()


def sign(secret: str, body: bytes, timestamp: int, *also: str) -> str:
    """The ``X-Kansa-Signature`` header value for ``body`` sent at ``timestamp``.

    ``also`` are further secrets (the previous one during a rotation's grace period): each adds
    its own ``v1``, after the one of ``secret``.
    """
    macs = ",".join(f"v1={_mac(key, body, timestamp)}" for key in (secret, *also))
    return f"t={timestamp},{macs}"


def signing_secrets(hook: Webhook, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then the previous one while
    its grace period lasts."""
    now = now or utcnow()
    keys = [hook.secret]
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > now:
        keys.append(hook.previous_secret)
    return keys


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None
) -> bool:
    """Check a signature header as a receiver should (constant time, bounded clock skew).

    True when any ``v1`` of the header is the HMAC of ``secret``: during a rotation the header
    carries one per valid secret, and a receiver holds one of them.
    """
    timestamp: int | None = None
    given: list[str] = []
    for part in (header or "").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            given.append(value)
    if timestamp is None or not given:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _mac(secret, body, timestamp)
    matches = [hmac.compare_digest(expected, value) for value in given]  # every one compared
    return any(matches)


# ------------------------------------------------------------------------------ the worker


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def _due(now: datetime) -> Any:
    """Pending, due, not leased to a live worker, and of a webhook that is active (not held)."""
    table = table_of(WebhookDelivery)
    hooks = table_of(Webhook)
    return sa.and_(
        table.c.state == DeliveryState.PENDING,
        table.c.next_attempt_at <= now,
        sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now),
        table.c.webhook_id.in_(
            sa.select(hooks.c.id).where(hooks.c.active, hooks.c.deleted_at.is_(None))
        ),
    )


def claim(session: Session, worker: str, batch: int = 10, lease: timedelta = LEASE) -> list[int]:
    """Take up to ``batch`` due deliveries for ``worker``; no row is ever held by two workers."""
    now = utcnow()
    table = table_of(WebhookDelivery)
    due = _due(now)
    candidates = sa.select(table.c.id).where(due).order_by(table.c.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(of=table, skip_locked=True)
    ids = list(session.execute(candidates).scalars())
    claimed = []
    for row_id in ids:
        result = session.execute(
            sa.update(table)
            .where(table.c.id == row_id, due)
            .values(locked_by=worker, locked_until=now + lease)
        )
        if rows_affected(result) == 1:
            claimed.append(row_id)
    session.commit()
    return claimed


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 60 s, 120 s … up to 6 h."""
    return timedelta(seconds=min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY))


def _mine(delivery_id: int, worker: str) -> Any:
    table = table_of(WebhookDelivery)
    return sa.and_(
        table.c.id == delivery_id,
        table.c.locked_by == worker,
        table.c.state == DeliveryState.PENDING,
    )


def deliver(
    session: Session, delivery_id: int, worker: str, settings: Settings = STRICT
) -> WebhookDelivery:
    """Send one claimed delivery and record the outcome.

    Nothing is sent unless the row is still this worker's: its lease is renewed first (a lease
    that ran out may already be another worker's), and a delivery whose webhook was paused
    meanwhile is released, held, unsent. No transaction stays open while the request runs.
    """
    table = table_of(WebhookDelivery)
    # the claim was a bulk UPDATE: read the row afresh, not from the session's identity map
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    hook = session.get(Webhook, delivery.webhook_id, populate_existing=True)
    assert hook is not None  # a foreign key
    if delivery.locked_by != worker or delivery.state != DeliveryState.PENDING:
        session.rollback()
        return delivery  # someone else's, or finished meanwhile
    now = utcnow()
    if not hook.active or hook.deleted_at is not None:
        session.execute(
            sa.update(table)
            .where(_mine(delivery_id, worker))
            .values(locked_by=None, locked_until=None)
        )
        session.commit()
        session.refresh(delivery)
        return delivery  # held: its webhook was paused after the claim
    renewed = session.execute(
        sa.update(table)
        .where(_mine(delivery_id, worker), table.c.locked_until > now)
        .values(locked_until=now + settings.lease)
    )
    if rows_affected(renewed) != 1:
        session.rollback()
        session.refresh(delivery)
        return delivery  # the lease ran out before the send began: no longer ours to send
    url, keys = hook.url, signing_secrets(hook, now)
    attempts = delivery.attempts + 1
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Kansa-Event": delivery.event,
        "X-Kansa-Delivery": delivery.delivery_id,
        "X-Kansa-Signature": sign(keys[0], body, int(time.time()), *keys[1:]),
    }
    session.commit()  # the renewed lease is saved, and no transaction waits on the network
    outcome = post(url, body, headers, settings.policy, settings.timeouts)
    done = utcnow()
    result: dict[str, Any] = {
        "attempts": attempts,
        "last_status": outcome.status,
        "last_error": outcome.error,
        "locked_by": None,
        "locked_until": None,
        "updated_at": done,
    }
    if outcome.ok:
        result.update(state=DeliveryState.DELIVERED, delivered_at=done)
    elif attempts >= MAX_ATTEMPTS:
        result.update(state=DeliveryState.FAILED)
    else:
        result.update(next_attempt_at=done + backoff(attempts))
    recorded = session.execute(sa.update(table).where(_mine(delivery_id, worker)).values(result))
    if rows_affected(recorded) != 1:
        log.warning(
            "webhook delivery %s: outcome not recorded, the row changed meanwhile (%s)",
            delivery.delivery_id,
            outcome.error or outcome.status,
        )
    session.commit()
    session.refresh(delivery)
    return delivery


def _destinations(session: Session, ids: list[int]) -> dict[int, str]:
    """host:port of each delivery's receiver (one bad URL is a destination of its own)."""
    rows = session.execute(
        sa.select(table_of(WebhookDelivery).c.id, table_of(Webhook).c.url)
        .join(table_of(Webhook))
        .where(table_of(WebhookDelivery).c.id.in_(ids))
    ).all()
    found: dict[int, str] = {}
    for delivery_id, url in rows:
        try:
            found[delivery_id] = target_of(url).destination
        except ValueError:
            found[delivery_id] = url
    return found


def send_all(
    ids: list[int],
    destination_of: Mapping[int, str],
    send: Callable[[int], Any],
    threads: int,
    per_destination: int,
) -> None:
    """Run ``send`` for every id on a pool of ``threads``, at most ``per_destination`` at once
    to one destination, taking destinations in turn: a slow one delays only its own."""
    queues: dict[str, deque[int]] = defaultdict(deque)
    for delivery_id in ids:
        queues[destination_of.get(delivery_id, "")].append(delivery_id)
    busy: dict[str, int] = defaultdict(int)
    running: dict[Future[Any], str] = {}
    with ThreadPoolExecutor(
        max_workers=max(1, min(threads, len(ids))), thread_name_prefix="kansa-webhook"
    ) as pool:

        def start_more() -> None:
            started = True
            while started and len(running) < threads:
                started = False
                for where, queue in queues.items():
                    if queue and busy[where] < per_destination and len(running) < threads:
                        running[pool.submit(send, queue.popleft())] = where
                        busy[where] += 1
                        started = True

        start_more()
        while running:
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                busy[running.pop(future)] -= 1
                error = future.exception()
                if error is not None:
                    log.error("webhook delivery failed in its worker thread", exc_info=error)
            start_more()


def run_once(
    session: Session, worker: str | None = None, batch: int = 10, settings: Settings = STRICT
) -> int:
    """Claim and send one batch, concurrently (see ``send_all``); returns how many were attempted.

    Each thread has a database session of its own on the same engine as ``session``.
    """
    worker = worker or worker_name()
    ids = claim(session, worker, batch, settings.lease)
    if not ids:
        return 0
    destination_of = _destinations(session, ids)
    session.commit()
    engine = session.get_bind()

    def send(delivery_id: int) -> None:
        with Session(engine, expire_on_commit=False) as own:
            deliver(own, delivery_id, worker, settings)

    send_all(ids, destination_of, send, settings.threads, settings.per_destination)
    return len(ids)


def _held() -> Any:
    """True for a delivery waiting on a paused webhook."""
    return sa.and_(
        col(WebhookDelivery.state) == DeliveryState.PENDING, sa.not_(col(Webhook.active))
    )


def recent_deliveries(session: Session, limit: int = 50) -> list[tuple[WebhookDelivery, str, bool]]:
    """The latest deliveries with their webhook's URL and whether they are held, newest first."""
    rows = session.exec(
        select(WebhookDelivery, Webhook.url, _held())
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return [(delivery, url, bool(held)) for delivery, url, held in rows]


def undelivered_counts(session: Session) -> dict[int, int]:
    """Pending deliveries per webhook (held ones, for a paused webhook)."""
    rows = session.exec(
        select(WebhookDelivery.webhook_id, sa.func.count())
        .where(WebhookDelivery.state == DeliveryState.PENDING)
        .group_by(col(WebhookDelivery.webhook_id))
    ).all()
    return {hook_id: count for hook_id, count in rows}


def next_due(session: Session) -> datetime | None:
    """When the next pending delivery that is not held falls due (for the worker's sleep)."""
    return session.exec(
        select(sa.func.min(WebhookDelivery.next_attempt_at))
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.state == DeliveryState.PENDING, Webhook.active)
    ).one()


def all_webhooks(session: Session, updated_since: datetime | None = None) -> list[Webhook]:
    """Every webhook that is not deleted, oldest first; only those registered or changed since
    ``updated_since`` if given."""
    statement = select(Webhook).where(col(Webhook.deleted_at).is_(None))
    if updated_since is not None:
        statement = statement.where(last_change(Webhook) >= updated_since)
    return list(session.exec(statement.order_by(col(Webhook.id))).all())


def deliveries(
    webhook_id: int | None = None,
    state: str | None = None,
    held: bool | None = None,
    updated_since: datetime | None = None,
) -> Any:
    """A SELECT of (delivery, held) rows, newest first, optionally of one webhook, in one state,
    held or not, queued or changed (an attempt, a retry, a release, a cancellation) since
    ``updated_since``."""
    statement = select(WebhookDelivery, _held()).join(
        Webhook, col(Webhook.id) == WebhookDelivery.webhook_id
    )
    if updated_since is not None:
        statement = statement.where(last_change(WebhookDelivery) >= updated_since)
    if webhook_id is not None:
        statement = statement.where(WebhookDelivery.webhook_id == webhook_id)
    if state is not None:
        statement = statement.where(WebhookDelivery.state == state)
    if held is not None:
        statement = statement.where(_held() if held else sa.not_(_held()))
    return statement.order_by(col(WebhookDelivery.id).desc())
