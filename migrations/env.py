"""Alembic environment: the URL comes from the caller or DATABASE_URL; models give the metadata."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from audit.extensions import sqlite_pragmas
from audit.models import metadata

config = context.config


def database_url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set; run `flask --app wsgi db upgrade` instead")
    return url


def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our column types portably in generated migrations."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and obj.__class__.__name__ == "AutoString":
        length = getattr(obj, "length", None)
        return f"sa.String(length={length})" if length else "sa.String()"
    return False


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = database_url()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    if url.startswith("sqlite"):
        sa.event.listen(engine, "connect", sqlite_pragmas())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
