"""Backup and restore: portable, checksummed, evidence included, refused when damaged."""

import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import textwrap

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
from tests.conftest import BASE_PG_URL, PG_URL, pg_database_url, requires_pg, reset_postgres


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


def analyzed(engine, table, since=None):
    """Whether ``ANALYZE`` (not autovacuum) ran on ``table`` of a PostgreSQL database."""
    with engine.connect() as conn:
        when = conn.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        ).scalar()
    return when is not None and (since is None or when >= since)


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
    base = sa.engine.make_url(BASE_PG_URL).database
    other_url = pg_database_url(f"{base}_restore")  # test_restore_gw0 under xdist
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
        # the planner has statistics at once, even where autovacuum is off
        assert analyzed(db.engine_for(restored), "assessment")
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


#: run in a subprocess: build the app on DATABASE_URL, run one command, report the peak
#: address space; ``baseline`` only opens a connection (the cost of the app itself)
COMMAND = textwrap.dedent(
    """
    import sys
    from audit import create_app
    from audit.extensions import db

    command, url, path = sys.argv[1:]
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": url})
    if command == "baseline":
        with app.app_context(), db.engine.connect():
            from audit.services import backup  # noqa: F401
        result = None
    else:
        result = app.test_cli_runner().invoke(args=[command, path])
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmPeak"))
    print("peak", peak * 1024)
    if result is not None:
        print(result.output, repr(result.exception))
        sys.exit(result.exit_code)
    """
)


def run_limited(command, url, path, limit=None):
    def cap():
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-c", COMMAND, command, url, str(path)],
        preexec_fn=cap,
        capture_output=True,
        text=True,
        timeout=300,
    )
    peak = int(done.stdout.split()[1]) if done.stdout.startswith("peak") else None
    return done, peak


BLOBS = 40
BLOB_BYTES = 4 << 20
#: the address space a backup or restore may take beyond the app's own: far less than the
#: decompressed file (some 213 MiB of base64) or its evidence (160 MiB)
MARGIN = 128 << 20


@pytest.mark.slow
def test_backup_and_restore_stream_under_an_address_space_limit(app, filled, tmp_path):
    """160 MiB of evidence backs up and restores in 128 MiB more than the app needs idle."""
    url = app.config["DATABASE_URL"]
    with db.engine_for(app).begin() as conn:
        evidence = metadata.tables["evidence"]
        first = conn.execute(sa.select(evidence)).mappings().first()
        top = conn.execute(sa.select(sa.func.max(evidence.c.id))).scalar_one()
        for n in range(1, BLOBS + 1):
            data = n.to_bytes(4, "big") + bytes(range(256)) * (BLOB_BYTES // 256)
            row = {**first, "id": top + n, "size": len(data), "filename": f"scan-{n}.pdf"}
            row["sha256"] = hashlib.sha256(data).hexdigest()
            conn.execute(sa.insert(evidence), row)
            conn.execute(
                sa.insert(metadata.tables["evidence_blob"]), {"evidence_id": top + n, "data": data}
            )
    done, baseline = run_limited("baseline", url, tmp_path / "none")
    assert done.returncode == 0 and baseline, done.stderr
    limit = baseline + MARGIN
    target = tmp_path / "large.backup"
    done, peak = run_limited("backup", url, target, limit)
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    with gzip.open(target, "rb") as raw:
        size = sum(len(line) for line in raw)
    assert size > MARGIN * 3 // 2  # holding the file's rows would not fit in the margin
    restored = tmp_path / "restored.sqlite3"
    done, peak = run_limited("restore", f"sqlite:///{restored}", target, limit)
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    assert "restored " in done.stdout
    engine = sa.create_engine(f"sqlite:///{restored}")
    try:
        with engine.connect() as conn:
            blob = metadata.tables["evidence_blob"]
            assert conn.execute(sa.select(sa.func.count()).select_from(blob)).scalar() == BLOBS + 1
            data = conn.execute(
                sa.select(blob.c.data).where(blob.c.evidence_id == top + BLOBS)
            ).scalar_one()
    finally:
        engine.dispose()
    assert data == BLOBS.to_bytes(4, "big") + bytes(range(256)) * (BLOB_BYTES // 256)


def test_small_batches_restore_the_same_rows(app, runner, filled, tmp_path, monkeypatch):
    """Batches of two rows: every table split across many ``executemany``, links kept."""
    from audit.services import backup

    monkeypatch.setattr(backup, "BATCH_ROWS", 2)
    target = tmp_path / "kansa.backup"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    before = dump(db.engine_for(app))
    restored = fresh_sqlite_app(tmp_path)
    out = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert out.exit_code == 0, out.output
    assert dump(db.engine_for(restored)) == before


def rewrite(path, lines):
    """A sound backup of ``lines`` (header and rows): new counts and checksum in its trailer."""
    digest = hashlib.sha256()
    counts = {}
    for line in lines:
        digest.update(line)
        record = json.loads(line)
        if "t" in record:
            counts[record["t"]] = counts.get(record["t"], 0) + 1
    trailer = json.dumps({"end": True, "counts": counts, "sha256": digest.hexdigest()})
    path.write_bytes(gzip.compress(b"".join(lines) + trailer.encode() + b"\n"))


def test_a_file_in_another_table_order_is_restored_a_table_at_a_time(app, runner, filled, tmp_path):
    """Rows of children before their parents (another writer's order) still load."""
    target = tmp_path / "kansa.backup"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    header, *rows, _ = gzip.decompress(target.read_bytes()).splitlines(keepends=True)
    rewrite(target, [header, *reversed(rows)])
    from audit.services import backup

    assert not backup.check(target).loads_in_one_pass
    before = dump(db.engine_for(app))
    restored = fresh_sqlite_app(tmp_path)
    out = restored.test_cli_runner().invoke(args=["restore", str(target)])
    assert out.exit_code == 0, out.output
    assert dump(db.engine_for(restored)) == before


def test_a_file_changed_after_its_check_leaves_nothing_restored(app, runner, filled, tmp_path):
    """The loading pass checks the checksum again: a file swapped meanwhile is rolled back."""
    from audit import migrate
    from audit.services import backup

    target = tmp_path / "kansa.backup"
    assert runner.invoke(args=["backup", str(target)]).exit_code == 0
    checked = backup.check(target)
    header, *rows, _ = gzip.decompress(target.read_bytes()).splitlines(keepends=True)
    rewrite(target, [header, *rows[:-1]])  # sound, but not the file that was checked
    restored = fresh_sqlite_app(tmp_path)
    migrate.upgrade(restored)
    engine = db.engine_for(restored)
    with pytest.raises(backup.BackupError, match="changed while it was restored"):
        backup.restore(engine, target, checked)
    with engine.connect() as conn:
        for table in ("user_account", "subcontractor", "assessment", "audit_event"):
            assert not conn.execute(
                sa.select(sa.func.count()).select_from(metadata.tables[table])
            ).scalar()
