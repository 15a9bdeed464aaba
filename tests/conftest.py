"""Fixtures: a fresh application and database per test, on SQLite or PostgreSQL.

The database is SQLite in a temporary file unless ``TEST_DATABASE_URL`` names a PostgreSQL
database, in which case every test runs there. Either way the schema is made by the Alembic
migrations (once per session) and each test starts from empty tables.

Under pytest-xdist every worker has a database of its own: on SQLite its own temporary files;
on PostgreSQL ``<name>_<worker>`` (``test_gw0``, ``test_gw1``...), created on demand next to
the database ``TEST_DATABASE_URL`` names (which is used itself when not under xdist).
``PG_URL`` is that worker's URL; ``pg_database_url`` names any other database a test makes.

The shipped checklists are published once per session (per worker), by ``load_paths``, into a
template (``checklist_template``); ``loaded_checklists`` copies its rows into the test's
database, ids, audit events and PostgreSQL sequences included: the state publishing leaves.
It does so only while every table publishing reads or writes is still empty there; a test
whose fixtures wrote to one of them first gets the checklists published for real.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from audit import create_app, request_log
from audit.api import ratelimit
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

#: ``make test-fast`` sets KANSA_FAST_LANE=1; ``make test`` (and so CI) does not
FAST_LANE = os.environ.get("KANSA_FAST_LANE") == "1"


def examples(full: int) -> int:
    """How many examples a property test tries: ``full``, a tenth of it in the fast lane."""
    return max(10, full // 10) if FAST_LANE else full


requires_pg = pytest.mark.skipif(
    not PG_URL, reason="TEST_DATABASE_URL is unset: PostgreSQL tests need a server"
)


def app_config(database_url: str) -> dict[str, Any]:
    """The settings of the ``app`` fixture."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "CHECKLISTS_DIR": str(ROOT / "checklists"),
        "SEEDS_DIR": str(ROOT / "seeds"),
        # fast hashing in tests; test_auth checks the production default separately
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # no fsync for databases thrown away after the test (test_factory checks the default)
        "SQLITE_SYNCHRONOUS": "OFF",
        # limits far above what any test sends; tests of the limits set low ones
        # (tests/api/test_rate_limits.py), and every test starts with no request counted
        "RATELIMIT_API": "100000 per minute",
        "RATELIMIT_API_ANONYMOUS": "100000 per minute",
        # the webhook tests' receivers listen on 127.0.0.1 (only there: 127.0.0.2 stays refused)
        "WEBHOOK_ALLOW_PRIVATE": ("127.0.0.1/32",),
    }


# ------------------------------------------------------------------------------ PostgreSQL


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


def _quoted_tables(conn: sa.Connection) -> list[tuple[str, str]]:
    quote = conn.dialect.identifier_preparer.quote
    return [(t.name, quote(t.name)) for t in metadata.sorted_tables]


_SUPERUSER: dict[str, bool] = {}

# the sequences owned by a column of one of ``:tables`` that have handed out a value
_MOVED_SEQUENCES = """
SELECT format('%I.%I', s.schemaname, s.sequencename)
FROM pg_sequences s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
JOIN pg_class t ON t.oid = d.refobjid
WHERE s.schemaname = current_schema() AND s.last_value IS NOT NULL AND t.relname = ANY(:tables)
"""


def _empty_postgres(conn: sa.Connection) -> None:
    """Every table empty, its sequences restarted: the state ``TRUNCATE … RESTART IDENTITY`` leaves.

    As a superuser (CI's ``postgres``) it deletes the rows of the tables holding any, with the
    foreign-key triggers off for the transaction, and restarts the sequences that moved: a few
    milliseconds per test, where truncating every table takes some 45. Otherwise it truncates.
    """
    tables = _quoted_tables(conn)
    url = conn.engine.url.render_as_string()
    if url not in _SUPERUSER:
        _SUPERUSER[url] = bool(
            conn.execute(
                sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        )
    if not _SUPERUSER[url]:
        names = ", ".join(quoted for _, quoted in tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
    held = conn.execute(
        sa.text("SELECT " + ", ".join(f"EXISTS (SELECT 1 FROM {q})" for _, q in tables))
    ).one()
    for (_, quoted), has_rows in zip(tables, held, strict=True):
        if has_rows:
            conn.execute(sa.text(f"DELETE FROM {quoted}"))
    moved = conn.execute(sa.text(_MOVED_SEQUENCES), {"tables": [name for name, _ in tables]})
    for sequence in moved.scalars().all():
        conn.execute(sa.text(f"ALTER SEQUENCE {sequence} RESTART"))


@dataclass
class PostgresTemplate:
    """What publishing left in PostgreSQL: binary COPY data per table, the sequences it moved."""

    checks: str  # SQL: the tables publishing reads or writes are empty, their sequences unused
    tables: list[tuple[str, bytes]] = field(default_factory=list)
    sequences: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def capture(cls, conn: sa.Connection, touched: set[str]) -> PostgresTemplate:
        quote = conn.dialect.identifier_preparer.quote
        owned = [
            name
            for table in metadata.sorted_tables
            if table.name in touched
            for column in table.columns
            if (
                name := conn.execute(
                    sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                    {"table": quote(table.name), "column": column.name},
                ).scalar()
            )
        ]
        listed = ", ".join(f"'{name}'" for name in owned) or "NULL"
        checks = " AND ".join(
            [f"NOT EXISTS (SELECT 1 FROM {quote(t)})" for t in sorted(touched)]
            + [
                "NOT EXISTS (SELECT 1 FROM pg_sequences WHERE last_value IS NOT NULL"
                f" AND format('%I.%I', schemaname, sequencename)::regclass IN ({listed}))"
            ]
        )
        made = cls(checks)
        raw = conn.connection.driver_connection
        for _, quoted in _quoted_tables(conn):
            if not conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {quoted})")).scalar():
                continue
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY {quoted} TO STDOUT (FORMAT binary)") as copy:
                    made.tables.append((quoted, b"".join(bytes(chunk) for chunk in copy)))
        for name in owned:
            value = conn.execute(
                sa.text(
                    "SELECT last_value FROM pg_sequences"
                    " WHERE format('%I.%I', schemaname, sequencename)::regclass = :name ::regclass"
                ),
                {"name": name},
            ).scalar()
            if value is not None:
                made.sequences.append((name, value))
        return made

    def install(self, conn: sa.Connection) -> bool:
        if not conn.execute(sa.text(f"SELECT {self.checks}")).scalar():
            return False
        raw = conn.connection.driver_connection
        for quoted, data in self.tables:
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY {quoted} FROM STDIN (FORMAT binary)") as copy:
                    copy.write(data)
        for name, value in self.sequences:
            conn.execute(
                sa.text("SELECT setval(:name, :value, true)"), {"name": name, "value": value}
            )
        return True


# ------------------------------------------------------------------------------ SQLite


@dataclass
class SqliteTemplate:
    """A database file holding what publishing made, copied row for row by ``INSERT SELECT``."""

    path: Path
    checks: str  # SQL: the tables publishing reads or writes are empty
    tables: list[tuple[str, str]] = field(default_factory=list)  # (quoted name, column list)

    @classmethod
    def capture(cls, path: Path, touched: set[str]) -> SqliteTemplate:
        con = sqlite3.connect(path)
        try:
            checks = [f'NOT EXISTS (SELECT 1 FROM main."{t}")' for t in sorted(touched)]
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
                # AUTOINCREMENT counters, should a table ever use them: unused too
                listed = ", ".join(f"'{t}'" for t in sorted(touched))
                checks.append(
                    f"NOT EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name IN ({listed}))"
                )
            made = cls(path, " AND ".join(checks))
            for table in metadata.sorted_tables:
                quoted = f'"{table.name}"'
                # rows of other tables came with the migrated file, which every test has too
                if (
                    table.name in touched
                    and con.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})").fetchone()[0]
                ):
                    columns = ", ".join(
                        f'"{c[1]}"' for c in con.execute(f"PRAGMA table_info({quoted})")
                    )
                    made.tables.append((quoted, columns))
        finally:
            con.close()
        return made

    def install(self, path: str) -> bool:
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            con.execute("ATTACH DATABASE ? AS loaded", (str(self.path),))
            con.execute("BEGIN IMMEDIATE")
            if not con.execute(f"SELECT {self.checks}").fetchone()[0]:
                con.execute("ROLLBACK")
                return False
            for quoted, columns in self.tables:
                con.execute(
                    f"INSERT INTO main.{quoted} ({columns}) SELECT {columns} FROM loaded.{quoted}"
                )
            con.execute("COMMIT")
            return True
        finally:
            con.close()


# ------------------------------------------------------------------------------ databases


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


@pytest.fixture(scope="session")
def pg_engine(migrated_template: str) -> Iterator[sa.Engine | None]:
    """One pooled connection to the worker's PostgreSQL database, for emptying and filling it."""
    if not PG_URL:
        yield None
        return
    engine = sa.create_engine(PG_URL, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _publish_shipped(database_url: str) -> set[str]:
    """Publish the shipped checklists with ``load_paths``; the tables its SQL names."""
    from audit.services import checklists

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    app = shared_app(database_url)
    engine = db.engine_for(app)
    try:
        sa.event.listen(engine, "before_cursor_execute", record)
        with app.app_context():
            checklists.load_paths(db.session, [ROOT / "checklists"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        engine.dispose()
    sql = "\n".join(statements)
    return {t.name for t in metadata.sorted_tables if re.search(rf"\b{t.name}\b", sql)}


@dataclass
class ChecklistTemplate:
    """The shipped checklists as ``load_paths`` publishes them into an empty database.

    ``touched`` names every table publishing reads or writes. While those are all empty (and on
    PostgreSQL their sequences unused) in a test's database, publishing there would make the
    same rows with the same ids as in the template, whatever the other tables hold.
    """

    touched: set[str]
    engine: sa.Engine | None = None
    postgres: PostgresTemplate | None = None
    sqlite: SqliteTemplate | None = None

    def install(self, database_url: str) -> bool:
        """Copy the published rows into ``database_url`` if publishing would make them there;
        otherwise change nothing and answer False."""
        if self.postgres is not None:
            assert database_url == PG_URL, database_url
            with self.engine.begin() as conn:
                return self.postgres.install(conn)
        return self.sqlite.install(sa.engine.make_url(database_url).database)


@pytest.fixture(scope="session")
def checklist_template(
    migrated_template: str, pg_engine: sa.Engine | None, tmp_path_factory: pytest.TempPathFactory
) -> ChecklistTemplate:
    """Publish the shipped checklists once per session (per xdist worker) with ``load_paths``."""
    if PG_URL:
        with pg_engine.begin() as conn:
            _empty_postgres(conn)
        touched = _publish_shipped(PG_URL)
        with pg_engine.begin() as conn:
            captured = PostgresTemplate.capture(conn, touched)
            _empty_postgres(conn)
        return ChecklistTemplate(touched, pg_engine, postgres=captured)
    path = tmp_path_factory.mktemp("template") / "checklists.sqlite3"
    shutil.copyfile(migrated_template, path)
    touched = _publish_shipped(f"sqlite:///{path}")
    return ChecklistTemplate(touched, sqlite=SqliteTemplate.capture(path, touched))


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this worker's tests have their SQLite database, one after the other."""
    return tmp_path_factory.mktemp("database")


#: set on a test whose database got the checklist template as soon as it was made
PRELOADED = pytest.StashKey[bool]()


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest,
    migrated_template: str,
    checklist_template: ChecklistTemplate,
    pg_engine: sa.Engine | None,
    sqlite_dir: Path,
) -> str:
    """An empty migrated database for this test (the checklist template is made first).

    A test that uses ``loaded_checklists`` (itself or through another fixture) gets the
    template's rows here, before any other fixture writes, whatever order its fixtures run in.
    """
    if PG_URL:
        with pg_engine.begin() as conn:
            _empty_postgres(conn)
        url = PG_URL
    else:
        # one path per worker, so that its app keeps one engine (and its cache of compiled SQL);
        # the previous test's engine was disposed of, which closed its connections
        target = sqlite_dir / "kansa.sqlite3"
        for leftover in (target, *(target.with_name(f"{target.name}-{x}") for x in ("wal", "shm"))):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(migrated_template, target)
        url = f"sqlite:///{target}"
    if "loaded_checklists" in request.fixturenames:
        assert checklist_template.install(url), "an empty database refused the template"
        request.node.stash[PRELOADED] = True
    return url


@dataclass
class SharedApp:
    """The one application a worker builds for its tests, and its settings as built."""

    app: Flask
    settings: dict[str, Any]

    def bound_to(self, database_url: str) -> Flask:
        """The app with the settings it was built with, on ``database_url``.

        The engine stays while the URL does (the previous test disposed of its connections),
        so SQL compiled once is not compiled again for every test.
        """
        self.app.config.clear()
        self.app.config.update(copy.deepcopy(self.settings))
        self.app.config["DATABASE_URL"] = database_url
        engine = db.engine_for(self.app)
        moved = engine.url.render_as_string(hide_password=False) != database_url
        if moved or engine.pool.checkedout():  # checked out: a test left a connection open
            db.bind(self.app)
        request_log.configure_for(self.app)
        ratelimit.reset(self.app)
        return self.app


_SHARED: list[SharedApp] = []


def shared_app(database_url: str) -> Flask:
    """This worker's application, built on first use, bound to ``database_url``."""
    if not _SHARED:
        built = create_app(app_config(database_url))
        _SHARED.append(SharedApp(built, copy.deepcopy(dict(built.config))))
    return _SHARED[0].bound_to(database_url)


@pytest.fixture
def app(request: pytest.FixtureRequest, database_url: str) -> Iterator[Flask]:
    """The application, on this test's database, with the settings of ``app_config``.

    Building an app costs some 0.1 s (the URL map, the OpenAPI document, every template
    compiled again), more than most tests, so a worker builds one and hands it to each test
    on a new engine with its settings restored: whatever a test changes in ``app.config`` is
    gone for the next. A test that adds routes is marked ``fresh_app`` and gets its own, since
    Flask refuses new routes on an app that has served a request.
    """
    if request.node.get_closest_marker("fresh_app"):
        app = create_app(app_config(database_url))
    else:
        app = shared_app(database_url)
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
            user = users.create_user(
                db.session, email, password, role, hash_method=app.config["PASSWORD_HASH_METHOD"]
            )
            db.session.commit()
            return user.id

    return make


@pytest.fixture
def loaded_checklists(request: pytest.FixtureRequest, database_url: str) -> None:
    """The three shipped checklists published, exactly as ``load_paths`` would publish them.

    ``database_url`` sees this fixture among the test's and copies them from the session's
    template into the new database before any other fixture writes; this one only marks the
    need (and checks that it was met).
    """
    assert request.node.stash.get(PRELOADED, False), "database_url did not load the checklists"


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
