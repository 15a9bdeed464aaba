"""Webhooks: an outbox written in the same transaction as the change, sent by workers.

A delivery row is added by ``enqueue`` inside the transaction that submits, approves or returns
an assessment or changes a finding, so a delivery exists exactly when the change does. Workers
(``flask --app wsgi webhooks worker``; run as many as you like) claim rows with a conditional
UPDATE, and on PostgreSQL pick candidates with ``FOR UPDATE SKIP LOCKED``, so no row is sent by
two workers at once. Failures are retried with exponential backoff, then marked failed.

Each request carries:

* ``X-Kansa-Event``: the event name, e.g. ``assessment.approved``;
* ``X-Kansa-Delivery``: the delivery id (a UUID; the same on every retry, for de-duplication);
* ``X-Kansa-Signature``: ``t=<unix time>,v1=<hex>`` where ``v1`` is HMAC-SHA256 with the
  webhook's secret over ``"<t>." + body``. Receivers check it with ``verify_signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..limits import DESCRIPTION_MAX, WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN, WEBHOOK_URL_MAX
from ..models import User, Webhook, WebhookDelivery, id_of, rows_affected, table_of, utcnow
from ..vocabulary import DeliveryState, WebhookEvent, values
from . import Conflict, Forbidden, NotFound, Problems

MAX_ATTEMPTS = 8
BASE_DELAY = 30  # seconds before the first retry; doubles each time
MAX_DELAY = 6 * 3600
LEASE = timedelta(seconds=60)
TIMEOUT = 10
USER_AGENT = "Kansa-Webhooks/1"


# ------------------------------------------------------------------------------ registering


def require_admin(actor: User) -> None:
    """Refuse (403) anyone who may not manage webhooks."""
    if not policies.may_manage_webhooks(actor):
        raise Forbidden("only admins manage webhooks")


def _validate(
    url: str, secret: str, events: Iterable[str], description: str
) -> tuple[str, str, list[str], str]:
    problems = Problems()
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add("url", "the URL must be an absolute http:// or https:// address")
    if len(url) > WEBHOOK_URL_MAX:
        problems.add("url", f"the URL is over {WEBHOOK_URL_MAX:,} characters")
    secret = secret or ""
    if not WEBHOOK_SECRET_MIN <= len(secret) <= WEBHOOK_SECRET_MAX:
        problems.add(
            "secret",
            f"the secret must be {WEBHOOK_SECRET_MIN} to {WEBHOOK_SECRET_MAX} characters",
        )
    chosen = sorted(set(events or ()))
    if not chosen:
        problems.add("events", "choose at least one event")
    for event in chosen:
        if event not in values(WebhookEvent):
            problems.add(
                "events",
                f"unknown event {event!r}; events are {', '.join(values(WebhookEvent))}",
            )
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        problems.add("description", f"the description is over {DESCRIPTION_MAX} characters")
    problems.check()
    return url, secret, chosen, description


def register(
    session: Session,
    actor: User,
    *,
    url: str,
    secret: str,
    events: Iterable[str],
    description: str = "",
) -> Webhook:
    """Register a webhook (admins only)."""
    from . import events as audit_events

    require_admin(actor)
    url, secret, chosen, description = _validate(url, secret, events, description)
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


def set_active(session: Session, actor: User, hook_id: int, active: bool) -> Webhook:
    """Pause or resume a webhook; paused ones get no new deliveries."""
    from . import events as audit_events

    require_admin(actor)
    hook = session.get(Webhook, hook_id)
    if hook is None:
        raise NotFound(f"no webhook {hook_id}")
    if hook.active != active:
        hook.active = active
        session.add(hook)
        audit_events.record(
            session,
            actor,
            "webhook.changed",
            "webhook",
            hook.id,
            before={"active": not active},
            after={"active": active},
        )
    return hook


def retry(session: Session, actor: User, delivery_id: int) -> WebhookDelivery:
    """Send a failed delivery again from the start (admins only)."""
    require_admin(actor)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    if delivery.state == DeliveryState.DELIVERED:
        raise Conflict("this delivery already succeeded")
    delivery.state, delivery.attempts = DeliveryState.PENDING, 0
    delivery.next_attempt_at, delivery.locked_until = utcnow(), None
    session.add(delivery)
    return delivery


# ------------------------------------------------------------------------------ the outbox


def enqueue(session: Session, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Add a delivery for every active webhook that wants ``event``, in the caller's transaction."""
    if event not in values(WebhookEvent):
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = session.exec(select(Webhook).where(Webhook.active)).all()
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


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Kansa-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None
) -> bool:
    """Check a signature header as a receiver should (constant time, bounded clock skew)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


# ------------------------------------------------------------------------------ the worker


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def claim(session: Session, worker: str, batch: int = 10) -> list[int]:
    """Take up to ``batch`` due deliveries for ``worker``; no row is ever held by two workers."""
    now = utcnow()
    table = table_of(WebhookDelivery)
    due = sa.and_(
        table.c.state == DeliveryState.PENDING,
        table.c.next_attempt_at <= now,
        sa.or_(table.c.locked_until.is_(None), table.c.locked_until < now),
    )
    candidates = sa.select(table.c.id).where(due).order_by(table.c.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.execute(candidates).scalars())
    claimed = []
    for row_id in ids:
        result = session.execute(
            sa.update(table)
            .where(table.c.id == row_id, due)
            .values(locked_by=worker, locked_until=now + LEASE)
        )
        if rows_affected(result) == 1:
            claimed.append(row_id)
    session.commit()
    return claimed


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str | None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT) -> Outcome:
    """POST without following redirects; 2xx is success."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return Outcome(False, exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(False, None, str(reason)[:500])
    if 200 <= status < 300:
        return Outcome(True, status, None)
    return Outcome(False, status, f"HTTP {status}")


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 30 s, 60 s, 120 s … up to 6 h."""
    return timedelta(seconds=min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY))


def deliver(
    session: Session,
    delivery_id: int,
    worker: str,
    send: Callable[[str, bytes, dict[str, str]], Outcome] = post,
) -> WebhookDelivery:
    """Send one claimed delivery and record the outcome."""
    # the claim was a bulk UPDATE: read the row afresh, not from the session's identity map
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}")
    hook = session.get(Webhook, delivery.webhook_id)
    assert hook is not None  # a foreign key
    if delivery.locked_by != worker or delivery.state != DeliveryState.PENDING:
        return delivery  # someone else's, or finished meanwhile
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Kansa-Event": delivery.event,
        "X-Kansa-Delivery": delivery.delivery_id,
        "X-Kansa-Signature": sign(hook.secret, body, int(time.time())),
    }
    outcome = send(hook.url, body, headers)
    now = utcnow()
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    delivery.locked_by, delivery.locked_until = None, None
    if outcome.ok:
        delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = DeliveryState.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    session.add(delivery)
    session.commit()
    return delivery


def run_once(session: Session, worker: str | None = None, batch: int = 10) -> int:
    """Claim and send one batch; returns how many were attempted."""
    worker = worker or worker_name()
    ids = claim(session, worker, batch)
    for delivery_id in ids:
        deliver(session, delivery_id, worker)
    return len(ids)


def recent_deliveries(session: Session, limit: int = 50) -> list[tuple[WebhookDelivery, str]]:
    """The latest deliveries with their webhook's URL, newest first."""
    rows = session.exec(
        select(WebhookDelivery, Webhook.url)
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return [(delivery, url) for delivery, url in rows]


def next_due(session: Session) -> datetime | None:
    """When the next pending delivery falls due (for the worker's sleep)."""
    return session.exec(
        select(sa.func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.state == DeliveryState.PENDING
        )
    ).one()


def all_webhooks(session: Session) -> list[Webhook]:
    """Every registered webhook, oldest first."""
    return list(session.exec(select(Webhook).order_by(col(Webhook.id))).all())


def deliveries(webhook_id: int | None = None, state: str | None = None) -> Any:
    """A SELECT of deliveries, newest first, optionally of one webhook or in one state."""
    statement = select(WebhookDelivery)
    if webhook_id is not None:
        statement = statement.where(WebhookDelivery.webhook_id == webhook_id)
    if state is not None:
        statement = statement.where(WebhookDelivery.state == state)
    return statement.order_by(col(WebhookDelivery.id).desc())
