"""Webhooks that admins register, and the outbox of deliveries to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..limits import DESCRIPTION_MAX, WEBHOOK_SECRET_MAX, WEBHOOK_URL_MAX
from ..vocabulary import DeliveryState
from .base import created_column, json_column, one_of, timestamp, utcnow


class Webhook(SQLModel, table=True):
    """A receiver; deleting one keeps its row (``deleted_at``) so its deliveries stay readable."""

    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=WEBHOOK_URL_MAX)
    # the shared secret that signs deliveries (HMAC-SHA256); the receiver holds the same value
    secret: str = Field(max_length=WEBHOOK_SECRET_MAX)
    # after a rotation the old secret also signs, until it expires, so receivers can switch
    previous_secret: str | None = Field(default=None, max_length=WEBHOOK_SECRET_MAX)
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True)
    )
    # moved on by every change: the ETag ("w<id>-r<revision>") that If-Match must name
    revision: int = Field(default=1)
    events: list[str] = Field(sa_column=json_column(nullable=False))
    active: bool = Field(default=True)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    created_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class WebhookDelivery(SQLModel, table=True):
    """One event for one webhook: written with the change that caused it, sent by a worker."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        one_of("state", DeliveryState, "state"),
        sa.Index(None, "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=36, unique=True)
    webhook_id: int = Field(foreign_key="webhook.id", index=True, ondelete="CASCADE")
    event: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    state: str = Field(default=DeliveryState.PENDING, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    # a worker holds a row until this time; another may take it over after
    locked_until: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    locked_by: str | None = Field(default=None, max_length=64)
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    delivered_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    #: when its state, attempts or next attempt last changed (None: not since it was queued)
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
