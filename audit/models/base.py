"""Shared column types and the metadata naming convention for all tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import SQLModel

# Named constraints make migrations reproducible on SQLite (batch mode) and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def id_of(row: SQLModel) -> int:
    """The primary key of a stored row (flushed or loaded), typed as the int it then is."""
    value = getattr(row, "id", None)
    if value is None:
        raise ValueError(f"{type(row).__name__} has no id yet: add and flush it first")
    return int(value)


def rows_affected(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its cursor's row count)."""
    return cast(sa.CursorResult[Any], result).rowcount


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, for UPDATE and DELETE statements that bypass the session."""
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store times in UTC with tzinfo")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_column(nullable: bool = True) -> sa.Column:
    """A JSON column where Python ``None`` is SQL NULL, not the JSON text ``null``.

    With SQLAlchemy's default a NOT NULL JSON column silently accepted ``None`` and a nullable
    one never held NULL, so ``IS NULL`` matched nothing.
    """
    return sa.Column(sa.JSON(none_as_null=True), nullable=nullable)


def timestamp(nullable: bool = False, **kwargs: Any) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, **kwargs)


def created_column() -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=False, default=utcnow)


def revision_column() -> sa.Column:
    """The optimistic-concurrency counter of a mutable row (``services.revisions``); starts at 1.

    The server default gives the rows that existed before the column its first revision.
    """
    return sa.Column(sa.Integer(), nullable=False, default=1, server_default=sa.text("1"))


def one_of(column: str, vocabulary: Iterable[str], name: str) -> sa.CheckConstraint:
    """A CHECK constraint that keeps a text column within a vocabulary (one of its enums)."""
    quoted = ", ".join(f"'{value}'" for value in vocabulary)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)
