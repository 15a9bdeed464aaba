"""Peak memory and time of `flask backup`, `flask restore` and `audit verify` at two sizes.

Generates, by bulk inserts on PostgreSQL, a programme of N assessments: N/10 subcontractors
(one in four entrusted by another), 80 % of assessments approved with a 2.5 KB score snapshot,
10 answers each, 2 audit events each (a valid hash chain) and one 64 KiB evidence file per
100 assessments. Then it runs each command in a subprocess of its own, under /usr/bin/time -v,
and prints its wall time and peak resident memory:

    .venv/bin/python bench/backup_memory.py --sizes 10000 100000 \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_backup [--old d9c8e5e]

``--old REV`` runs the same commands with the code of revision REV too (extracted with
``git archive`` into a temporary folder) on the same generated database. The databases
``<name>_<N>`` and ``<name>_<N>_restored`` are dropped and made again.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audit import migrate  # noqa: E402
from audit.models import AuditEvent, metadata, utcnow  # noqa: E402
from audit.services import checklists as checklist_service  # noqa: E402
from audit.services.events import GENESIS, event_digest  # noqa: E402

CHUNK = 5000
COMMAND = """
import sys
from audit import create_app
app = create_app({"SECRET_KEY": "x", "DATABASE_URL": sys.argv[1]})
result = app.test_cli_runner().invoke(args=sys.argv[2:])
print(result.output.strip()[-300:], repr(result.exception) if result.exception else "")
sys.exit(result.exit_code)
"""


def recreate(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(
        sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def insert(conn: sa.Connection, table: str, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(sa.insert(metadata.tables[table]), rows[start : start + CHUNK])


def generate(url: str, n: int) -> None:
    recreate(url)
    migrate.upgrade_url(url)
    engine = sa.create_engine(url)
    from sqlmodel import Session

    with Session(engine) as session:
        checklist_service.load_paths(session, [ROOT / "checklists"], max_bytes=1 << 20)
        session.commit()
    rnd = random.Random(n)
    now = utcnow()
    with engine.begin() as conn:
        version_id, items = None, []
        for vid in conn.execute(sa.text("SELECT id FROM checklist_version ORDER BY id")).scalars():
            got = list(
                conn.execute(
                    sa.text("SELECT id FROM checklist_item WHERE version_id = :v ORDER BY id"),
                    {"v": vid},
                ).scalars()
            )
            if len(got) >= 10:
                version_id, items = vid, got[:10]
                break
        users = [
            {
                "id": 1000 + i,
                "email": f"user{i}@example.com",
                "name": f"User {i}",
                "role": role,
                "password_hash": "pbkdf2:sha256:1000$x$y",
                "active": True,
                "created_at": now,
            }
            for i, role in enumerate(["admin", "auditor", "auditor", "reviewer", "viewer"])
        ]
        insert(conn, "user_account", users)
        companies = n // 10
        subs = []
        for i in range(1, companies + 1):
            subs.append(
                {
                    "id": i,
                    "name": f"Subcontractor {i:06d} K.K.",
                    "country": rnd.choice(["JP", "JP", "JP", "VN", "US", "DE"]),
                    "services": "Data processing and hosting",
                    "data_categories": ["personal", "financial"][: rnd.randint(0, 2)],
                    "tier": 1 if i % 4 else 2,
                    "parent_id": (i - 1 if i % 4 == 0 else None),
                    "revision": 1,
                    "notes": "",
                    "created_at": now,
                }
            )
        insert(conn, "subcontractor", subs)
        snapshot = {
            "score": 82.5,
            "rating": "B",
            "caps": [],
            "sections": [
                {"ref": f"S{k}", "title": f"Section {k} " + "x" * 60, "score": 80 + k}
                for k in range(25)
            ],
        }
        assessments, answers, events, evidence, blobs = [], [], [], [], []
        last = conn.execute(sa.text("SELECT id, hash FROM audit_event ORDER BY id DESC")).first()
        first_event, prev = (last[0], last[1]) if last else (0, GENESIS)
        answer_id = 0
        for a in range(1, n + 1):
            approved = a % 5 != 0
            day = date(2020, 1, 1) + timedelta(days=a % 2000)
            assessments.append(
                {
                    "id": a,
                    "subcontractor_id": 1 + a % companies,
                    "checklist_version_id": version_id,
                    "title": f"Annual audit {a}",
                    "state": "approved" if approved else "draft",
                    "due_date": day,
                    "period_start": day - timedelta(days=365),
                    "period_end": day,
                    "reviewer_id": 1003,
                    "created_by_id": 1000,
                    "revision": 3 if approved else 1,
                    "created_at": now,
                    "approved_at": now if approved else None,
                    "score_snapshot": snapshot if approved else None,
                }
            )
            for item in items:
                answer_id += 1
                answers.append(
                    {
                        "id": answer_id,
                        "assessment_id": a,
                        "item_id": item,
                        "status": rnd.choice(["compliant", "compliant", "partial"]),
                        "comment": "Checked on site with the plant manager.",
                        "answered_by_id": 1001,
                        "answered_at": now,
                    }
                )
            for action in ("assessment.created", "assessment.submitted"):
                event = AuditEvent(
                    id=first_event + len(events) + 1,
                    occurred_at=now,
                    actor_id=1001,
                    actor="user1@example.com",
                    action=action,
                    object_type="assessment",
                    object_id=str(a),
                    assessment_id=a,
                    before=None,
                    after={"state": "submitted", "title": f"Annual audit {a}"},
                    prev_hash=prev,
                    hash="",
                )
                event.hash = event_digest(event)
                prev = event.hash
                events.append(event.model_dump())
            if a % 100 == 0:
                data = a.to_bytes(4, "big") + os.urandom(64 << 10)
                evidence.append(
                    {
                        "id": a // 100,
                        "assessment_id": a,
                        "filename": f"evidence-{a}.pdf",
                        "content_type": "application/pdf",
                        "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "uploaded_by_id": 1001,
                        "uploaded_at": now,
                    }
                )
                blobs.append({"evidence_id": a // 100, "data": data})
            if len(answers) >= 50_000:
                insert(conn, "assessment", assessments)
                insert(conn, "answer", answers)
                assessments, answers = [], []
        insert(conn, "assessment", assessments)
        insert(conn, "answer", answers)
        insert(conn, "audit_event", events)
        insert(conn, "evidence", evidence)
        insert(conn, "evidence_blob", blobs)
        for table in ("user_account", "subcontractor", "assessment", "answer", "audit_event"):
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    engine.dispose()


def run(code: Path, url: str, *args: str) -> tuple[float, int, str]:
    """Wall seconds and peak resident KiB of one command, and its last words."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-c", COMMAND, url, *args],
        cwd=code,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return wall, peak, done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--url", required=True, help="a PostgreSQL URL; its name is a prefix")
    parser.add_argument("--old", help="also measure the code of this git revision")
    options = parser.parse_args()
    codes = [("new", ROOT)]
    work = Path(tempfile.mkdtemp(prefix="kansa-backup-bench-"))
    if options.old:
        old = work / "old"
        old.mkdir()
        archive = subprocess.run(
            ["git", "archive", options.old], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        codes.insert(0, (f"old {options.old}", old))
    base = sa.engine.make_url(options.url)
    print("| code | assessments | rows | file | command | wall | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for n in options.sizes:
        source = base.set(database=f"{base.database}_{n}").render_as_string(False)
        target = base.set(database=f"{base.database}_{n}_restored").render_as_string(False)
        started = time.perf_counter()
        generate(source, n)
        print(f"<!-- generated {n} in {time.perf_counter() - started:.0f} s -->", flush=True)
        for label, code in codes:
            file = work / f"{label.split()[0]}-{n}.backup"
            recreate(target)
            for command, url in (
                (["backup", str(file)], source),
                (["restore", str(file)], target),
                (["audit", "verify"], target),
            ):
                wall, peak, said = run(code, url, *command)
                rows = re.search(r"(\d+) rows", said)
                size = f"{file.stat().st_size / 2**20:.0f} MiB" if file.exists() else "-"
                print(
                    f"| {label} | {n:,} | {rows[1] if rows else ''} | {size} | "
                    f"`{' '.join(command[:1] if command[0] != 'audit' else command)}` | "
                    f"{wall:.1f} s | {peak / 1024:.0f} MiB |  <!-- {said[:120]} -->",
                    flush=True,
                )


if __name__ == "__main__":
    main()
