"""The ``flask --app wsgi …`` commands: each succeeds, or fails non-zero with a one-line reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session, select

from audit import create_app
from audit.checklists import parse_file
from audit.extensions import db
from audit.models import (
    Assessment,
    AuditEvent,
    ChecklistItem,
    ChecklistVersion,
    Subcontractor,
    User,
    metadata,
)
from audit.services import checklists as checklist_service
from audit.services import users as user_service
from audit.vocabulary import Rating, values
from tests.conftest import ROOT, requires_pg

SLUGS = ("safety-management", "security-governance", "subcontractor-oversight")
SO = "subcontractor-oversight"
PASSWORD = "a long enough password"


def count(app, model: Any) -> int:
    with Session(db.engine_for(app)) as fresh:
        return fresh.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def all_counts(app) -> dict[str, int]:
    with Session(db.engine_for(app)) as fresh:
        return {
            t.name: fresh.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_one_line_failure(result, reason: str) -> None:
    """Non-zero exit and exactly one line on stderr: ``Error: <reason>``."""
    assert result.exit_code != 0, result.output
    assert error_lines(result) == [f"Error: {reason}"], result.stderr


@pytest.fixture
def offline_app(tmp_path: Path):
    """An app whose database does not exist and cannot be reached."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nowhere",
            "CHECKLISTS_DIR": str(ROOT / "checklists"),
        }
    )


@pytest.fixture
def empty_sqlite_app(tmp_path: Path):
    """An app on a new, never migrated SQLite file."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}",
            "CHECKLISTS_DIR": str(ROOT / "checklists"),
            "SEEDS_DIR": str(ROOT / "seeds"),
        }
    )
    yield app
    db.engine_for(app).dispose()


# --------------------------------------------------------------------------- db


def test_db_upgrade_on_a_migrated_database_succeeds(runner, app, database_url) -> None:
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == f"database at head: {database_url}\n"
    assert count(app, User) == 0


def test_db_upgrade_creates_the_schema(empty_sqlite_app) -> None:
    runner = empty_sqlite_app.test_cli_runner()
    before = runner.invoke(args=["checklists", "list"])
    assert before.exit_code != 0
    assert error_lines(before)[-1].startswith("Error: database error: no such table")
    assert error_lines(before)[-1].endswith("(has `flask --app wsgi db upgrade` been run?)")
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = db.engine_for(empty_sqlite_app)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    after = runner.invoke(args=["checklists", "list"])
    assert after.exit_code == 0, after.output


def test_db_upgrade_to_an_unknown_revision_fails(runner) -> None:
    result = runner.invoke(args=["db", "upgrade", "deadbeef"])
    assert result.exit_code != 0
    [line] = error_lines(result)
    assert line.startswith("Error: migration failed: ")
    assert "deadbeef" in line


# --------------------------------------------------------------------------- checklists load


def test_load_the_default_folder(runner, app) -> None:
    result = runner.invoke(args=["checklists", "load"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    for line, slug in zip(lines, SLUGS, strict=True):
        definition = parse_file(ROOT / "checklists" / slug / "1.0.0.yaml")
        assert line.startswith("published ")
        assert line.endswith(
            f"/{slug}/1.0.0.yaml: {slug} 1.0.0 ({definition.item_count} items, "
            f"sha256 {definition.content_hash[:12]})"
        )
    assert count(app, ChecklistVersion) == 3
    again = runner.invoke(args=["checklists", "load"])
    assert again.exit_code == 0
    assert [line.split()[0] for line in again.output.splitlines()] == ["unchanged"] * 3
    assert count(app, ChecklistVersion) == 3


def test_load_an_explicit_path(runner, app) -> None:
    result = runner.invoke(args=["checklists", "load", str(ROOT / "checklists" / SO)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 1
    assert f"{SO} 1.0.0" in result.output
    with Session(db.engine_for(app)) as fresh:
        slugs = [c.slug for c, _ in checklist_service.versions(fresh)]
    assert slugs == [SO]


def test_load_a_refused_path_loads_nothing(runner, app, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    shutil.copytree(ROOT / "checklists" / SO, folder / SO)
    bad = yaml.safe_load((ROOT / "checklists" / "safety-management" / "1.0.0.yaml").read_text())
    bad["sections"][0]["items"][0]["weight"] = 0
    target = folder / "safety-management" / "1.0.0.yaml"
    target.parent.mkdir()
    target.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    before = all_counts(app)
    result = runner.invoke(args=["checklists", "load", str(folder)])
    assert result.exit_code != 0
    assert error_lines(result) == [
        f"refused: {target}: sections[0].items[0].weight: must be 1..5",
        "Error: nothing was loaded",
    ]
    assert result.stdout == ""
    assert all_counts(app) == before


def test_load_a_missing_path(runner, app, tmp_path: Path) -> None:
    result = runner.invoke(args=["checklists", "load", str(tmp_path / "missing")])
    assert result.exit_code != 0
    assert error_lines(result) == [
        f"refused: {tmp_path / 'missing'}: no such file or folder",
        "Error: nothing was loaded",
    ]
    assert count(app, ChecklistVersion) == 0


def test_load_a_changed_published_version_is_refused(runner, app, tmp_path: Path) -> None:
    folder = tmp_path / "lists"
    shutil.copytree(ROOT / "checklists" / SO, folder / SO)
    assert runner.invoke(args=["checklists", "load", str(folder)]).exit_code == 0
    before = all_counts(app)
    path = folder / SO / "1.0.0.yaml"
    data = yaml.safe_load(path.read_text())
    data["sections"][0]["items"][1]["weight"] = 1
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["checklists", "load", str(folder)])
    assert result.exit_code != 0
    [refusal, error] = error_lines(result)
    assert refusal.startswith(f"refused: {path}: {SO} 1.0.0 is already published")
    assert "(first difference: item SO-1.2 (weight))" in refusal
    assert error == "Error: nothing was loaded"
    assert all_counts(app) == before


# --------------------------------------------------------------------------- checklists check


def test_check_good_files_needs_no_database(offline_app) -> None:
    runner = offline_app.test_cli_runner()
    result = runner.invoke(args=["checklists", "check", str(ROOT / "checklists")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    for line, slug in zip(lines, SLUGS, strict=True):
        definition = parse_file(ROOT / "checklists" / slug / "1.0.0.yaml")
        assert line == (
            f"ok {ROOT / 'checklists' / slug / '1.0.0.yaml'}: {slug} 1.0.0, "
            f"{definition.item_count} items, sha256 {definition.content_hash[:12]}"
        )
    # the same app cannot reach its database: check really did not need it
    listed = runner.invoke(args=["checklists", "list"])
    assert listed.exit_code != 0
    assert "database error" in listed.stderr


def test_check_bad_files(offline_app, tmp_path: Path) -> None:
    good = tmp_path / SO / "1.0.0.yaml"
    good.parent.mkdir()
    shutil.copyfile(ROOT / "checklists" / SO / "1.0.0.yaml", good)
    bad = tmp_path / "bad-list" / "1.0.0.yaml"
    bad.parent.mkdir()
    bad.write_text("slug: bad-list\nversion: 1.0.0\nslug: again\n", encoding="utf-8")
    runner = offline_app.test_cli_runner()
    result = runner.invoke(args=["checklists", "check", str(good), str(bad)])
    assert result.exit_code != 0
    assert result.stdout.startswith(f"ok {good}: {SO} 1.0.0, ")
    assert error_lines(result) == [
        f"refused: {bad}: YAML error at line 3, column 1: duplicate key 'slug'",
        "Error: some files were refused",
    ]


def test_check_needs_a_path(offline_app) -> None:
    result = offline_app.test_cli_runner().invoke(args=["checklists", "check"])
    assert result.exit_code == 2
    assert "Missing argument 'PATHS...'" in result.stderr


# --------------------------------------------------------------------------- list and show


def test_list_empty_then_after_load(runner) -> None:
    empty = runner.invoke(args=["checklists", "list"])
    assert empty.exit_code == 0
    assert empty.output == "no checklist is published; run `flask --app wsgi checklists load`\n"
    assert runner.invoke(args=["checklists", "load"]).exit_code == 0
    listed = runner.invoke(args=["checklists", "list"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert [line.split()[:2] for line in lines] == [[slug, "1.0.0"] for slug in SLUGS]
    for line, slug in zip(lines, SLUGS, strict=True):
        definition = parse_file(ROOT / "checklists" / slug / "1.0.0.yaml")
        assert f" {definition.item_count} items " in line
        assert f"sha256 {definition.content_hash[:12]}" in line
        assert line.endswith(definition.title.en)


def test_show_latest_and_named_version(runner, loaded_checklists) -> None:
    definition = parse_file(ROOT / "checklists" / SO / "1.0.0.yaml")
    latest = runner.invoke(args=["checklists", "show", SO])
    named = runner.invoke(args=["checklists", "show", SO, "1.0.0"])
    assert latest.exit_code == 0 and named.exit_code == 0, latest.output + named.output
    assert latest.output == named.output
    lines = latest.output.splitlines()
    assert lines[0] == f"{definition.title.en} — {SO} 1.0.0"
    assert lines[1].startswith(f"sha256 {definition.content_hash}  published ")
    assert lines[1].endswith(" UTC")
    for section in definition.sections:
        assert f"{section.ref}  {section.title.en}" in lines
    for item in definition.items():
        flag = " [critical]" if item.critical else ""
        assert f"  {item.ref:8} w{item.weight}{flag}  {item.question.en}" in lines
    assert latest.output.count("[critical]") == sum(i.critical for i in definition.items())
    assert "refs: appi:Art. 25" in latest.output


def test_show_in_japanese(runner, loaded_checklists) -> None:
    definition = parse_file(ROOT / "checklists" / SO / "1.0.0.yaml")
    result = runner.invoke(args=["checklists", "show", SO, "--lang", "ja"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{definition.title.ja} — {SO} 1.0.0"
    assert lines[0].startswith("委託先の監督")
    for section in definition.sections:
        assert f"{section.ref}  {section.title.ja}" in lines
    first = definition.sections[0].items[0]
    assert any(line.endswith(first.question.get("ja")) for line in lines)


def test_show_picks_the_latest_version(runner, app, tmp_path: Path) -> None:
    folder = tmp_path / SO
    folder.mkdir()
    data = yaml.safe_load((ROOT / "checklists" / SO / "1.0.0.yaml").read_text())
    (folder / "1.0.0.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    data["version"] = "1.10.0"
    data["title"]["en"] = "Subcontractor oversight, revised"
    (folder / "1.10.0.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    data["version"] = "1.9.0"
    data["title"]["en"] = "Subcontractor oversight, interim"
    (folder / "1.9.0.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    assert runner.invoke(args=["checklists", "load", str(folder)]).exit_code == 0
    latest = runner.invoke(args=["checklists", "show", SO])
    assert latest.output.splitlines()[0] == f"Subcontractor oversight, revised — {SO} 1.10.0"
    old = runner.invoke(args=["checklists", "show", SO, "1.0.0"])
    assert old.output.splitlines()[0] == f"Subcontractor oversight — {SO} 1.0.0"


def test_show_unknown_slug(runner, loaded_checklists) -> None:
    result = runner.invoke(args=["checklists", "show", "no-such-list"])
    assert_one_line_failure(result, "no published checklist 'no-such-list'")


def test_show_unknown_version(runner, loaded_checklists) -> None:
    result = runner.invoke(args=["checklists", "show", SO, "9.9.9"])
    assert_one_line_failure(result, f"{SO} has no version '9.9.9' (published: 1.0.0)")


def test_show_before_anything_is_loaded(runner) -> None:
    result = runner.invoke(args=["checklists", "show", SO])
    assert_one_line_failure(result, f"no published checklist '{SO}'")


# --------------------------------------------------------------------------- users create


def create_user(runner, email: str, role: str = "auditor", password: str = PASSWORD, *extra):
    return runner.invoke(
        args=["users", "create", email, "--role", role, "--password-stdin", *extra],
        input=f"{password}\n",
    )


def test_users_create(runner, app) -> None:
    result = create_user(runner, "  Kenji@Kansa.Example ", "reviewer", PASSWORD, "--name", "Kenji")
    assert result.exit_code == 0, result.output
    assert result.output == "created reviewer kenji@kansa.example\n"
    with Session(db.engine_for(app)) as fresh:
        user = fresh.exec(select(User)).one()
        assert (user.email, user.name, user.role, user.active) == (
            "kenji@kansa.example",
            "Kenji",
            "reviewer",
            True,
        )
        assert PASSWORD not in user.password_hash
        assert user_service.authenticate(fresh, "kenji@kansa.example", PASSWORD) is not None
        assert user_service.authenticate(fresh, "kenji@kansa.example", "wrong " + PASSWORD) is None
        event = fresh.exec(select(AuditEvent).where(AuditEvent.action == "user.created")).one()
        assert event.after == {"email": "kenji@kansa.example", "role": "reviewer"}


def test_users_create_password_keeps_inner_spaces(runner, app) -> None:
    result = create_user(runner, "yui@kansa.example", "auditor", "  spaced out password  ")
    assert result.exit_code == 0, result.output
    with Session(db.engine_for(app)) as fresh:
        assert user_service.authenticate(fresh, "yui@kansa.example", "  spaced out password  ")


def test_users_create_duplicate_email(runner, app) -> None:
    assert create_user(runner, "kenji@kansa.example").exit_code == 0
    before = count(app, User)
    result = create_user(runner, "KENJI@kansa.example", "admin")
    assert_one_line_failure(result, "a user with e-mail kenji@kansa.example already exists")
    assert count(app, User) == before == 1


def test_users_create_bad_role(runner, app) -> None:
    result = create_user(runner, "kenji@kansa.example", "boss")
    assert result.exit_code == 2
    assert error_lines(result)[-1] == (
        "Error: Invalid value for '--role': 'boss' is not one of "
        "'admin', 'reviewer', 'auditor', 'viewer'."
    )
    assert count(app, User) == 0


def test_users_create_short_password(runner, app) -> None:
    result = create_user(runner, "kenji@kansa.example", "auditor", "short")
    assert_one_line_failure(result, "the password needs at least 12 characters")
    assert count(app, User) == 0


def test_users_create_empty_stdin(runner, app) -> None:
    result = runner.invoke(
        args=["users", "create", "kenji@kansa.example", "--role", "auditor", "--password-stdin"],
        input="",
    )
    assert_one_line_failure(result, "the password needs at least 12 characters")
    assert count(app, User) == 0


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "two@@kansa.example", "sp ace@x.example"])
def test_users_create_bad_email(runner, app, email: str) -> None:
    result = create_user(runner, email)
    assert_one_line_failure(result, f"{email.strip().lower()!r} is not a valid e-mail address")
    assert count(app, User) == 0


def test_users_create_with_a_prompt(runner, app) -> None:
    result = runner.invoke(
        args=["users", "create", "mana@kansa.example", "--role", "viewer"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "created viewer mana@kansa.example" in result.output
    assert PASSWORD not in result.output
    assert count(app, User) == 1


# --------------------------------------------------------------------------- seed demo


def test_seed_demo(runner, app) -> None:
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("demo data loaded: 5 users, 5 subcontractors, 4 assessments. ")
    demo = yaml.safe_load((ROOT / "seeds" / "demo.yaml").read_text(encoding="utf-8"))
    with Session(db.engine_for(app)) as fresh:
        users = {u.email: u for u in fresh.exec(select(User)).all()}
        assert {e: u.role for e, u in users.items()} == {
            u["email"]: u["role"] for u in demo["users"]
        }
        assert user_service.authenticate(fresh, "admin@kansa.example", demo["password"])

        companies = {c.name: c for c in fresh.exec(select(Subcontractor)).all()}
        assert len(companies) == 5
        aozora = companies["Aozora Cloud Operations K.K."]
        hanul = companies["Hanul Secure Maintenance Co., Ltd."]
        mirae = companies["Mirae Endpoint Services"]
        assert aozora.parent_id is None
        assert hanul.parent_id == aozora.id
        assert mirae.parent_id == hanul.id
        assert companies["Sakura Contact Center Ltd."].parent_id is None
        assert companies["Pacific Payroll Pte. Ltd."].audit_cadence_months == 24

        rows = fresh.exec(
            select(Assessment, Subcontractor.name, ChecklistVersion)
            .join(Subcontractor, Subcontractor.id == Assessment.subcontractor_id)
            .join(ChecklistVersion, ChecklistVersion.id == Assessment.checklist_version_id)
        ).all()
        by_company = {name: (a, v) for a, name, v in rows}
        assert {name: a.state for name, (a, _) in by_company.items()} == {
            "Aozora Cloud Operations K.K.": "approved",
            "Hanul Secure Maintenance Co., Ltd.": "submitted",
            "Mirae Endpoint Services": "in_progress",
            "Sakura Contact Center Ltd.": "draft",
        }
        assert {
            name: f"{v.content['slug']} {v.version}" for name, (_, v) in by_company.items()
        } == {spec["subcontractor"]: spec["checklist"] for spec in demo["assessments"]}

        approved = by_company["Aozora Cloud Operations K.K."][0]
        assert approved.score_snapshot["rating"] in values(Rating)
        assert 0 <= approved.score_snapshot["score"] <= 100
        assert approved.approved_at is not None and approved.approved_at.tzinfo is not None
        assert approved.reviewer_id == users["reviewer@kansa.example"].id
        submitted = by_company["Hanul Secure Maintenance Co., Ltd."][0]
        assert submitted.score_snapshot["rating"] in values(Rating)
        assert by_company["Sakura Contact Center Ltd."][0].score_snapshot is None
        # Mirae has the first 12 items answered, Sakura none
        from audit.models import Answer

        answered = dict(
            fresh.exec(
                select(Assessment.id, sa.func.count(Answer.id))
                .join(Answer, Answer.assessment_id == Assessment.id, isouter=True)
                .group_by(Assessment.id)
            ).all()
        )
        assert answered[by_company["Mirae Endpoint Services"][0].id] == 12
        assert answered[by_company["Sakura Contact Center Ltd."][0].id] == 0
    assert count(app, ChecklistItem) > 0


def test_seed_demo_if_empty_does_nothing_the_second_time(runner, app) -> None:
    first = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("demo data loaded: ")
    before = all_counts(app)
    second = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert second.exit_code == 0, second.output
    assert second.output == "database already has users: demo data not loaded\n"
    assert all_counts(app) == before


def test_seed_demo_twice_without_if_empty_is_refused_and_adds_nothing(runner, app) -> None:
    assert runner.invoke(args=["seed", "demo"]).exit_code == 0
    before = all_counts(app)
    again = runner.invoke(args=["seed", "demo"])
    assert_one_line_failure(
        again,
        "demo data not loaded: a subcontractor named 'Aozora Cloud Operations K.K.' already exists",
    )
    assert all_counts(app) == before


@requires_pg
@pytest.mark.parametrize("command", [["checklists", "load"], ["seed", "demo"]])
def test_bulk_commands_leave_planner_statistics_on_postgresql(runner, app, command) -> None:
    """Where autovacuum is off, only the command's own ``ANALYZE`` gives the planner figures."""
    engine = db.engine_for(app)
    with engine.connect() as conn:
        started = conn.execute(sa.text("SELECT now()")).scalar_one()
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        when = conn.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'checklist_item'")
        ).scalar()
    assert when is not None and when >= started


# --------------------------------------------------------------------------- the real command line


def flask_command(
    database_url: str, *args: str, secret: bool = True
) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FLASK_DEBUG", "FLASK_APP") and not k.startswith("KANSA_")
    }
    env["DATABASE_URL"] = database_url
    if secret:
        env["SECRET_KEY"] = "subprocess-secret"
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_real_command_line_lists_the_test_database(database_url, loaded_checklists) -> None:
    done = flask_command(database_url, "checklists", "list")
    assert done.returncode == 0, done.stderr
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [
        [slug, "1.0.0"] for slug in SLUGS
    ]


def test_real_command_line_without_secret_key_refuses_to_start(database_url) -> None:
    done = flask_command(database_url, "checklists", "list", secret=False)
    assert done.returncode != 0
    assert "SECRET_KEY is not set" in done.stderr
    assert "checklist" not in done.stdout
