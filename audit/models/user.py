"""People who sign in, and the API tokens they hold."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..limits import EMAIL_MAX, PERSON_NAME_MAX, TOKEN_NAME_MAX
from ..vocabulary import Role, TokenScope
from .base import created_column, one_of, timestamp, utcnow


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (one_of("role", Role, "role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX, unique=True, index=True)
    name: str = Field(max_length=PERSON_NAME_MAX)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    #: when the role or the active flag last changed (None: never since it was created)
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    last_login_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(SQLModel, table=True):
    """A bearer token: only its SHA-256 is stored; the secret is shown once at creation."""

    __tablename__ = "api_token"
    __table_args__ = (one_of("scope", TokenScope, "scope"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=TOKEN_NAME_MAX)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    scope: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    expires_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A sign-in attempt, kept to slow down password guessing per account and per address."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index(None, "email", "attempted_at"),
        sa.Index(None, "address", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX)
    address: str = Field(max_length=64)
    succeeded: bool
    attempted_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
