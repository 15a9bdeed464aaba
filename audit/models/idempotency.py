"""The Idempotency-Key of each API POST, with the first answer to replay to a retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..limits import IDEMPOTENCY_KEY_MAX
from .base import created_column, json_column, utcnow


class IdempotencyKey(SQLModel, table=True):
    """One key one user sent: the request's fingerprint and, once answered, the answer.

    ``status`` is NULL while the first request is still being served (a retry then gets 409);
    keys older than the retention (``KANSA_IDEMPOTENCY_HOURS``) are ignored and purged.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "key"),
        sa.Index(None, "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    key: str = Field(max_length=IDEMPOTENCY_KEY_MAX)
    # SHA-256 of the method, path, query and body the key was first sent with
    fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    status: int | None = Field(default=None)
    headers: dict[str, Any] | None = Field(default=None, sa_column=json_column())
    body: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary, nullable=True))
