"""``flask --app wsgi …`` commands. Each fails with a non-zero exit and a one-line reason."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from .checklists import ChecklistError, find_files, parse_file
from .extensions import db
from .services import ServiceError, planner
from .services import checklists as checklist_service
from .services import users as user_service
from .vocabulary import Role, TokenScope, values

F = TypeVar("F", bound=Callable[..., Any])


def register(app: Flask) -> None:
    for group in (
        db_group,
        checklists_group,
        users_group,
        seed_group,
        webhooks_group,
        audit_group,
        tokens_group,
        idempotency_group,
    ):
        app.cli.add_command(group)
    for command in (backup_command, restore_command):
        app.cli.add_command(command)


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _database_errors(func: F) -> F:
    """Turn 'no such table' into a one-line hint to migrate first."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            db.session.rollback()
            reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
            raise _fail(
                f"database error: {reason} (has `flask --app wsgi db upgrade` been run?)"
            ) from None

    return cast(F, wrapper)


# ------------------------------------------------------------------------------ db


@click.group("db", cls=AppGroup, help="Database schema (Alembic migrations).")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade", help="Apply migrations up to REVISION (default: head).")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    from . import migrate

    try:
        migrate.upgrade(current_app, revision)
    except Exception as exc:  # alembic raises several unrelated types
        raise _fail(f"migration failed: {str(exc).splitlines()[0]}") from None
    click.echo(f"database at {revision}: {_safe_url(current_app.config['DATABASE_URL'])}")


@db_group.command("current", help="Show the database's migration revision.")
def db_current() -> None:
    from . import migrate

    migrate.current(current_app)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------------------ checklists


@click.group("checklists", cls=AppGroup, help="Load, list and show versioned checklists.")
def checklists_group() -> None:
    """Load, list and show versioned checklists."""


@checklists_group.command("load", help="Validate and publish checklist files (default: all).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_database_errors
def checklists_load(paths: tuple[Path, ...]) -> None:
    targets = list(paths) or [Path(current_app.config["CHECKLISTS_DIR"])]
    try:
        results = checklist_service.load_paths(
            db.session, targets, max_bytes=current_app.config["CHECKLIST_MAX_BYTES"]
        )
    except ChecklistError as exc:
        for line in str(exc).splitlines():
            click.echo(f"refused: {line}", err=True)
        raise _fail("nothing was loaded") from None
    if any(result.created for result in results):
        planner.analyze(db.engine)  # bulk-inserted items: fresh planner statistics
    for result in results:
        v = result.version
        state = "published" if result.created else "unchanged"
        click.echo(
            f"{state:9} {result.source}: {v.content['slug']} {v.version} "
            f"({v.item_count} items, sha256 {v.content_hash[:12]})"
        )


@checklists_group.command("check", help="Validate checklist files without a database.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def checklists_check(paths: tuple[Path, ...]) -> None:
    failed = False
    for path in paths:
        try:
            files = find_files(path)
        except ChecklistError as exc:
            click.echo(f"refused: {exc}", err=True)
            failed = True
            continue
        for file in files:
            try:
                definition = parse_file(file, current_app.config["CHECKLIST_MAX_BYTES"])
            except ChecklistError as exc:
                click.echo(f"refused: {exc}", err=True)
                failed = True
            else:
                click.echo(
                    f"ok {file}: {definition.slug} {definition.version}, "
                    f"{definition.item_count} items, sha256 {definition.content_hash[:12]}"
                )
    if failed:
        raise _fail("some files were refused")


@checklists_group.command("list", help="List published checklist versions.")
@_database_errors
def checklists_list() -> None:
    rows = checklist_service.versions(db.session)
    if not rows:
        click.echo("no checklist is published; run `flask --app wsgi checklists load`")
        return
    for checklist, version in rows:
        click.echo(
            f"{checklist.slug:28} {version.version:8} {version.item_count:3} items  "
            f"sha256 {version.content_hash[:12]}  {version.title_en}"
        )


@checklists_group.command("show", help="Show a checklist version (default: the latest).")
@click.argument("slug")
@click.argument("version", required=False)
@click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True)
@_database_errors
def checklists_show(slug: str, version: str | None, lang: str) -> None:
    rows = [(c, v) for c, v in checklist_service.versions(db.session) if c.slug == slug]
    if not rows:
        raise _fail(f"no published checklist {slug!r}")
    if version is None:
        chosen = rows[-1][1]
    else:
        found = [v for _, v in rows if v.version == version]
        if not found:
            known = ", ".join(v.version for _, v in rows)
            raise _fail(f"{slug} has no version {version!r} (published: {known})")
        chosen = found[0]
    definition = checklist_service.definition_for(chosen)
    click.echo(f"{definition.title.get(lang)} — {slug} {chosen.version}")
    click.echo(f"sha256 {chosen.content_hash}  published {chosen.published_at:%Y-%m-%d %H:%M} UTC")
    for section in definition.sections:
        click.echo(f"\n{section.ref}  {section.title.get(lang)}")
        for item in section.items:
            flag = " [critical]" if item.critical else ""
            click.echo(f"  {item.ref:8} w{item.weight}{flag}  {item.question.get(lang)}")
            click.echo(f"           refs: {', '.join(item.reference_keys())}")


# ------------------------------------------------------------------------------ users


@click.group("users", cls=AppGroup, help="Manage user accounts.")
def users_group() -> None:
    """Manage user accounts."""


@users_group.command("create", help="Create a user; the password comes from a prompt.")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(values(Role)))
@click.option("--name", help="Display name (default: the part of the e-mail before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_database_errors
def users_create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = user_service.create_user(
            db.session,
            email,
            password,
            role,
            name,
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        raise _fail(exc.message) from None
    click.echo(f"created {user.role} {user.email}")


# ------------------------------------------------------------------------------ seed


@click.group("seed", cls=AppGroup, help="Load demonstration data.")
def seed_group() -> None:
    """Load demonstration data."""


@seed_group.command("demo", help="Users, subcontractors and assessments from seeds/.")
@click.option("--if-empty", is_flag=True, help="Do nothing when users already exist.")
@_database_errors
def seed_demo(if_empty: bool) -> None:
    from .services import seed

    if if_empty and user_service.count_users(db.session):
        click.echo("database already has users: demo data not loaded")
        return
    try:
        summary = seed.load_demo(
            db.session,
            Path(current_app.config["SEEDS_DIR"]),
            Path(current_app.config["CHECKLISTS_DIR"]),
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
    except (ServiceError, ChecklistError) as exc:
        db.session.rollback()
        raise _fail(f"demo data not loaded: {exc}") from None
    planner.analyze(db.engine)  # bulk-inserted rows: fresh planner statistics
    click.echo(summary)


# ------------------------------------------------------------------------------ webhooks


@click.group("webhooks", cls=AppGroup, help="Send webhook deliveries from the outbox.")
def webhooks_group() -> None:
    """Send webhook deliveries from the outbox."""


@webhooks_group.command("worker", help="Claim and send due deliveries until stopped.")
@click.option("--once", is_flag=True, help="Send one batch and exit.")
@click.option("--batch", default=10, show_default=True, type=click.IntRange(1, 500))
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(0.1, 300))
@click.option("--max-seconds", type=click.FloatRange(0), help="Stop after this long.")
@_database_errors
def webhooks_worker(once: bool, batch: int, poll: float, max_seconds: float | None) -> None:
    import time

    from .services import webhooks

    name = webhooks.worker_name()
    settings = webhooks.Settings.from_config(current_app.config)
    started = time.monotonic()
    sent = 0
    while True:
        count = webhooks.run_once(db.session, name, batch, settings)
        sent += count
        if once:
            break
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            break
        if count < batch:
            time.sleep(poll)
    click.echo(f"worker {name}: {sent} deliveries attempted")


# ------------------------------------------------------------------------------ audit trail


@click.group("audit", cls=AppGroup, help="The tamper-evident audit trail.")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify", help="Check every event's hash and its link to the previous one.")
@click.option("--head", help="The head hash recorded earlier; catches events cut off the end.")
@click.option("--count", "expected", type=int, help="At least this many events must be there.")
@_database_errors
def audit_verify(head: str | None, expected: int | None) -> None:
    from .services import events

    result = events.verify(db.session)
    if not result.ok:
        raise _fail(f"audit trail broken at event {result.bad_id}: {result.reason}")
    if expected is not None and result.count < expected:
        raise _fail(f"audit trail has {result.count} events, fewer than the {expected} expected")
    if head is not None and head != result.head:
        known = events.id_of_hash(db.session, head)
        where = f"event {known} is no longer the head" if known else "that hash is not in it"
        raise _fail(f"audit trail does not end at the recorded head: {where}")
    click.echo(f"audit trail intact: {result.count} events, head {result.head}")


# ------------------------------------------------------------------------------ idempotency keys


@click.group("idempotency", cls=AppGroup, help="The API's stored Idempotency-Key answers.")
def idempotency_group() -> None:
    """The API's stored Idempotency-Key answers."""


@idempotency_group.command(
    "purge", help="Delete the keys older than KANSA_IDEMPOTENCY_HOURS (each keyed POST does too)."
)
@_database_errors
def idempotency_purge() -> None:
    from datetime import timedelta

    from .services import idempotency

    hours = current_app.config.get("IDEMPOTENCY_HOURS", 24)
    deleted = idempotency.purge(db.session, retention=timedelta(hours=hours))
    click.echo(f"deleted {deleted} idempotency key(s) older than {hours} hours")


# ------------------------------------------------------------------------------ API tokens


@click.group("tokens", cls=AppGroup, help="API tokens: create, list and revoke.")
def tokens_group() -> None:
    """API tokens: create, list and revoke."""


@tokens_group.command("create", help="Create an API token for EMAIL; prints the secret once.")
@click.argument("email")
@click.option("--scope", required=True, type=click.Choice(values(TokenScope)))
@click.option(
    "--expires",
    "expires_days",
    type=click.IntRange(1, 3650),
    metavar="DAYS",
    help="Days until the token stops working (default: never).",
)
@click.option("--name", help="What the token is for (default: cli-<date>).")
@_database_errors
def tokens_create(email: str, scope: str, expires_days: int | None, name: str | None) -> None:
    from datetime import date

    from .services import tokens as token_service

    user = user_service.by_email(db.session, email)
    if user is None:
        raise _fail(f"no user {email!r}; create it with `flask users create`")
    try:
        token, secret = token_service.create(
            db.session,
            user,
            name=name or f"cli-{date.today():%Y-%m-%d}",
            scope=scope,
            expires_days=expires_days,
            actor=None,
            actor_label="cli",
        )
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        raise _fail(exc.message) from None
    expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
    click.echo(
        f"created token {token.id} {token.name!r} for {user.email} "
        f"({user.role}, scope {token.scope}, {expiry}); shown once, store it now:",
        err=True,
    )
    click.echo(secret)


@tokens_group.command("list", help="List API tokens (all, or EMAIL's); never the secrets.")
@click.argument("email", required=False)
@_database_errors
def tokens_list(email: str | None) -> None:
    from .services import tokens as token_service

    rows = token_service.all_tokens(db.session)
    if email:
        rows = [(t, e) for t, e in rows if e == user_service.normalise_email(email)]
    if not rows:
        click.echo("no API tokens")
        return
    for token, owner in rows:
        expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        click.echo(
            f"{token.id:4}  {token.prefix}…  {token.scope:5}  {token_service.state(token):7}  "
            f"expires {expires:10}  used {used:16}  {owner}  {token.name}"
        )


@tokens_group.command("revoke", help="Revoke a token by its id or displayed prefix.")
@click.argument("token")
@_database_errors
def tokens_revoke(token: str) -> None:
    from .services import tokens as token_service

    try:
        found = token_service.find(db.session, token)
        token_service.revoke(db.session, None, found, actor_label="cli")
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        raise _fail(exc.message) from None
    click.echo(f"revoked token {found.id} ({found.prefix}…, {found.name})")


# ------------------------------------------------------------------------------ backup


@click.command("backup", help="Write all data, evidence included, to a checksummed FILE.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@_database_errors
def backup_command(file: Path) -> None:
    from .services import backup

    if file.exists():
        raise _fail(f"{file} already exists; choose a new file name")
    counts = backup.write(db.engine, file)
    click.echo(
        f"backup written to {file}: {sum(counts.values())} rows in {len(counts)} tables "
        f"({counts.get('evidence', 0)} evidence files)"
    )


@click.command("restore", help="Load a backup FILE into an empty database (either engine).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@_database_errors
def restore_command(file: Path) -> None:
    from alembic.migration import MigrationContext

    from . import migrate
    from .services import backup

    try:
        checked = backup.check(file)  # refuse a damaged file before touching the database
        with db.engine.connect() as conn:
            empty = not MigrationContext.configure(conn).get_current_heads()
        if empty:
            migrate.upgrade(current_app)
        counts = backup.restore(db.engine, file, checked)
    except backup.BackupError as exc:
        raise _fail(f"not restored: {exc}") from None
    click.echo(f"restored {sum(counts.values())} rows from {file}")
