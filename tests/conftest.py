"""Fixtures: a fresh application and database per test, on SQLite or PostgreSQL.

The database is SQLite in a temporary file unless ``TEST_DATABASE_URL`` names a PostgreSQL
database, in which case every test runs there. Either way the schema is made by the Alembic
migrations (once per session) and each test starts from empty tables.

Under pytest-xdist every worker has a database of its own: on SQLite its own temporary files;
on PostgreSQL ``<name>_<worker>`` (``test_gw0``, ``test_gw1``...), created on demand next to
the database ``TEST_DATABASE_URL`` names (which is used itself when not under xdist).
``PG_URL`` is that worker's URL; ``pg_database_url`` names any other database a test makes.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import create_app
from audit.extensions import db
from audit.migrate import upgrade_url
from audit.models import metadata

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "correct horse battery staple"
#: the xdist worker running this process ("gw0", "gw1"...), None when not under xdist
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
#: the database named by the environment; the workers' databases are made next to it
BASE_PG_URL = os.environ.get("TEST_DATABASE_URL")


def pg_database_url(name: str | None = None) -> str:
    """A database on the ``TEST_DATABASE_URL`` server, unique to this xdist worker.

    ``pg_database_url()`` is the worker's test database (``test_gw0``; ``test`` outside
    xdist); ``pg_database_url("kansa_restore_test")`` is ``kansa_restore_test_gw0``.
    """
    assert BASE_PG_URL, "TEST_DATABASE_URL is unset"
    url = sa.engine.make_url(BASE_PG_URL)
    base = name or url.database
    return url.set(database=f"{base}_{WORKER}" if WORKER else base).render_as_string(
        hide_password=False
    )


#: this worker's PostgreSQL test database, None on SQLite
PG_URL = pg_database_url() if BASE_PG_URL else None
ENGINE = "postgresql" if PG_URL else "sqlite"

requires_pg = pytest.mark.skipif(
    not PG_URL, reason="TEST_DATABASE_URL is unset: PostgreSQL tests need a server"
)


def create_pg_database(url: str) -> None:
    """Create the database ``url`` names unless it exists, from the ``TEST_DATABASE_URL`` one."""
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if not found:
                quoted = conn.dialect.identifier_preparer.quote(name)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated empty database: a SQLite file to copy, or the worker's PostgreSQL database."""
    if PG_URL:
        create_pg_database(PG_URL)
        reset_postgres(PG_URL)
        upgrade_url(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade_url(f"sqlite:///{path}")
    return str(path)


def _truncate_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if PG_URL:
        _truncate_postgres(PG_URL)
        return PG_URL
    target = tmp_path / "kansa.sqlite3"
    shutil.copyfile(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": database_url,
            "CHECKLISTS_DIR": str(ROOT / "checklists"),
            "SEEDS_DIR": str(ROOT / "seeds"),
            # fast hashing in tests; test_auth checks the production default separately
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    yield app
    db.engine_for(app).dispose()


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create a user directly through the service layer; returns its id."""
    from audit.services import users

    def make(email: str, role: str = "auditor", password: str = DEMO_PASSWORD) -> int:
        with app.app_context():
            user = users.create_user(db.session, email, password, role)
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def loaded_checklists(app) -> None:
    from audit.services import checklists

    with app.app_context():
        checklists.load_paths(db.session, [ROOT / "checklists"])


CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/auth/login") -> str:
    """The CSRF token of the client's session, read from a page's form as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_INPUT.search(page)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


class AuthActions:
    def __init__(self, client) -> None:
        self.client = client

    def login(self, email: str, password: str = DEMO_PASSWORD, follow: bool = False):
        token = csrf_token(self.client)
        return self.client.post(
            "/auth/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=follow,
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/auth/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def count_queries(app):
    """Context manager counting SQL statements sent by the app's engine."""
    from contextlib import contextmanager

    @contextmanager
    def counting() -> Iterator[list[str]]:
        statements: list[str] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        engine = db.engine_for(app)
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return counting
