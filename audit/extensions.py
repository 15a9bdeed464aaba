"""The application's extensions, created once here and bound to an app in ``create_app``.

A leaf: it imports nothing of the application (the layering contract in pyproject.toml keeps
it so). The REST API's ``Api`` object lives with the API, in ``audit.api.spec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.engine import Engine
from sqlmodel import Session


class Database:
    """One SQLAlchemy engine per app, one SQLModel session per app context (flaskr's get_db)."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def init_app(self, app: Flask) -> None:
        self.bind(app)
        app.teardown_appcontext(self._close)

    @staticmethod
    def bind(app: Flask) -> Engine:
        """Give ``app`` a new engine on its ``DATABASE_URL``, disposing of the one it had."""
        previous: Engine | None = app.extensions.get("kansa.engine")
        if previous is not None:
            previous.dispose()
        url = app.config["DATABASE_URL"]
        options: dict[str, Any] = {"echo": app.config.get("SQL_ECHO", False)}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        else:
            options.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        engine = sa.create_engine(url, **options)
        if url.startswith("sqlite"):
            sa.event.listen(
                engine, "connect", sqlite_pragmas(app.config.get("SQLITE_SYNCHRONOUS", "FULL"))
            )
        app.extensions["kansa.engine"] = engine
        return engine

    @staticmethod
    def engine_for(app: Flask) -> Engine:
        engine: Engine = app.extensions["kansa.engine"]
        return engine

    @property
    def engine(self) -> Engine:
        return self.engine_for(current_app)

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use.

        It carries the app's ``VISIBILITY`` setting in ``session.info["visibility"]``, which the
        services read to scope what each person sees (``audit.services.visibility``).
        """
        if "db_session" not in g:
            g.db_session = Session(
                self.engine,
                expire_on_commit=False,
                info={"visibility": current_app.config.get("VISIBILITY")},
            )
        session: Session = g.db_session
        return session

    @staticmethod
    def _close(exc: BaseException | None = None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def sqlite_pragmas(synchronous: str = "FULL") -> Callable[[Any, Any], None]:
    """What every new SQLite connection is set up with (``synchronous``: OFF … EXTRA)."""

    def connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA synchronous={synchronous}")  # checked by config.check
        cursor.close()

    return connect


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
