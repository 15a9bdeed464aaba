"""Backup and restore: portable, checksummed, evidence included, refused when damaged."""

import gzip
import os

import pytest
import sqlalchemy as sa
from sqlmodel import select

from audit import create_app
from audit.extensions import db
from audit.models import EvidenceBlob, metadata
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import PG_URL, pg_database_url, requires_pg, reset_postgres


@pytest.fixture
def filled(app, loaded_checklists):
    """Users, a re-entrustment chain, an approved assessment with evidence, findings, events."""
    with app.app_context():
        session = db.session
        people = factories.team(session)
        parent = factories.subcontractor(session, people.admin, "Parent K.K.")
        child = factories.subcontractor(session, people.admin, "Child Co.", parent_id=parent.id)
        # a parent created after its child, so ids do not follow the chain
        late = factories.subcontractor(session, people.admin, "Late Parent Ltd.")
        from audit.services.subcontractors import register as subcontractors

        subcontractors.update(session, people.admin, parent, {"parent_id": late.id})
        session.commit()
        assessment = factories.assessment(session, people, company=child)
        checklist = svc.definition(session, assessment)
        svc.save_answers(
            session,
            people.auditor,
            assessment,
            [
                AnswerInput(
                    i.ref,
                    "non_compliant" if i.ref == "SO-3.1" else "compliant",
                    "日本語のコメント" if i.ref == "SO-3.1" else "",
                )
                for i in checklist.items()
            ],
            None,
        )
        evidence_svc.add(
            session,
            people.auditor,
            assessment,
            filename="証跡.pdf",
            content_type="application/pdf",
            data=bytes(range(256)) * 40,
            max_bytes=1 << 20,
            item_ref="SO-3.1",
        )
        svc.submit(session, people.auditor, assessment, None)
        svc.approve(session, people.reviewer, assessment, None)
        session.commit()


def dump(engine):
    """Every row of every table, in key order: the data a restore must reproduce."""
    with engine.connect() as conn:
        return {
            t.name: [
                dict(r)
                for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
            ]
            for t in metadata.sorted_tables
        }


def fresh_sqlite_app(tmp_path, name="restored"):
    return create_app(
        {"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/{name}.sqlite3"}
    )


def test_backup_then_restore_into_a_new_database(app, runner, filled, tmp_path):
    target = tmp_path / "kansa.backup"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 evidence files" in result.output
    before = dump(db.engine_for(app))
    restored = fresh_sqlite_app(tmp_path)
    out = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert out.exit_code == 0, out.output
    assert dump(db.engine_for(restored)) == before
    verify = restored.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output
    with restored.app_context():
        blob = db.session.exec(select(EvidenceBlob)).one()
    assert blob.data == bytes(range(256)) * 40


@requires_pg
def test_postgresql_to_sqlite_and_sqlite_to_postgresql(filled, app, runner, tmp_path):
    first = tmp_path / "from-postgres.backup"
    assert runner.invoke(args=["backup", str(first)]).exit_code == 0
    before = dump(db.engine_for(app))
    # PostgreSQL -> SQLite
    lite = fresh_sqlite_app(tmp_path)
    out = lite.test_cli_runner().invoke(args=["restore", str(first)])
    assert out.exit_code == 0, out.output
    assert dump(db.engine_for(lite)) == before
    # SQLite -> a new, empty PostgreSQL database
    second = tmp_path / "from-sqlite.backup"
    assert lite.test_cli_runner().invoke(args=["backup", str(second)]).exit_code == 0
    # named after this run's base database, so parallel runs on one server never share it
    base = sa.engine.make_url(PG_URL).database
    other_url = pg_database_url(f"{base}_restore")  # test_gw0_restore_gw0 under xdist
    other_name = sa.engine.make_url(other_url).database
    admin = sa.create_engine(PG_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{other_name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{other_name}"'))
    admin.dispose()
    restored = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": other_url,
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    try:
        out = restored.test_cli_runner().invoke(args=["restore", str(second)])
        assert out.exit_code == 0, out.output
        assert dump(db.engine_for(restored)) == before
        assert restored.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
        # the id sequences continue after the restored rows
        with restored.app_context():
            from audit.models import User
            from audit.services import users

            highest = max(u.id for u in db.session.exec(select(User)).all())
            made = users.create_user(
                db.session, "new@example.com", "x" * 12, "viewer", hash_method=factories.FAST_HASH
            )
            db.session.commit()
            assert made.id == highest + 1
    finally:
        db.engine_for(restored).dispose()
        reset_postgres(other_url)


def test_sqlite_to_sqlite_keeps_the_chain_of_parents(app, runner, filled, tmp_path):
    target = tmp_path / "kansa.backup"
    runner.invoke(args=["backup", str(target)])
    restored = fresh_sqlite_app(tmp_path)
    restored.test_cli_runner().invoke(args=["restore", str(target)])
    with restored.app_context():
        from audit.models import Subcontractor

        rows = {s.name: s for s in db.session.exec(select(Subcontractor)).all()}
    assert rows["Child Co."].parent_id == rows["Parent K.K."].id
    assert rows["Parent K.K."].parent_id == rows["Late Parent Ltd."].id


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "edit"])
def test_a_damaged_file_is_refused_and_nothing_is_written(app, runner, filled, tmp_path, damage):
    target = tmp_path / "kansa.backup"
    runner.invoke(args=["backup", str(target)])
    raw = target.read_bytes()
    if damage == "flip":
        middle = len(raw) // 2
        raw = raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :]
    elif damage == "truncate":
        raw = raw[: len(raw) * 2 // 3]
    elif damage == "garbage":
        raw = os.urandom(2048)
    else:  # a valid gzip whose content was changed: only the checksum can tell
        text = gzip.decompress(raw).replace("日本語のコメント".encode(), "改ざんされた".encode())
        raw = gzip.compress(text)
    target.write_bytes(raw)
    restored = fresh_sqlite_app(tmp_path)
    out = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert out.exit_code != 0
    assert "not restored: the backup file is damaged" in out.output or (
        damage == "garbage" and "not restored:" in out.output
    )
    with db.engine_for(restored).connect() as conn:
        tables = sa.inspect(conn).get_table_names()
    assert "assessment" not in tables  # refused before the database was touched


def test_restore_refuses_a_database_that_has_data(app, runner, filled, tmp_path):
    target = tmp_path / "kansa.backup"
    runner.invoke(args=["backup", str(target)])
    out = runner.invoke(args=["restore", str(target)])
    assert out.exit_code != 0 and "not empty" in out.output


def test_backup_does_not_overwrite_a_file(runner, tmp_path, filled):
    target = tmp_path / "exists.backup"
    target.write_text("keep me")
    out = runner.invoke(args=["backup", str(target)])
    assert out.exit_code != 0 and "already exists" in out.output
    assert target.read_text() == "keep me"


def test_a_restored_installation_keeps_its_oscal_identifiers(app, runner, filled, tmp_path):
    from audit.models import Assessment, Installation
    from audit.services import exports

    links = exports.OscalLinks(lambda evidence_id: f"https://kansa.example/{evidence_id}")

    def export(application):
        with application.app_context():
            assessment = db.session.exec(select(Assessment)).one()
            return exports.oscal_assessment_results(db.session, assessment, links)

    before = export(app)  # makes the namespace row if the test database lacks it
    with app.app_context():
        namespace = db.session.get(Installation, 1).namespace
    target = tmp_path / "kansa.backup"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    restored = fresh_sqlite_app(tmp_path)
    out = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert out.exit_code == 0, out.output
    with restored.app_context():
        (row,) = db.session.exec(select(Installation)).all()  # the backup's, not the migration's
    assert row.namespace == namespace
    assert export(restored) == before
