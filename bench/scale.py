"""Scale benchmark: the pages and API lists of a large programme, on PostgreSQL.

Run from the repository root (PostgreSQL listening on 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/scale.py [--sizes 1k,10k,100k] [--reuse] [--requests 20]
                                    [--json bench/scale.json]

For each size (a number of assessments; ``k`` means thousand) it

1. generates a database ``kansa_scale_<size>`` (dropped and created again unless ``--reuse``
   finds one holding that many assessments): the migrations and the shipped checklists through
   the ``flask`` commands, people and API tokens through the services, then in bulk
   (``session.execute(insert(table), rows)`` in batches, explicit ids, sequences moved on at
   the end) one subcontractor per ten assessments with re-entrustment chains, and per
   subcontractor about ten assessments over several years: every item answered (comments on
   every gap), most of them submitted and approved with the score snapshot that
   ``audit.rules.score`` gives for those answers, findings from ``audit.rules.findings`` with
   their remediation status, evidence metadata on one answer in seven (a few bytes of blob
   each), the auditors, and the audit trail: ``assessment.created``, one ``answer.saved`` per
   answer, ``assessment.submitted`` and ``assessment.approved``, hash-chained exactly as
   ``audit.services.events`` chains them (``flask audit verify`` passes); ends with ANALYZE;
2. measures, through the Flask test client in this process, every page and endpoint of issue
   12's table: the server time of ``--requests`` requests after two warm-up requests (p50 and
   p95) and the number of SQL statements per request (a ``before_cursor_execute`` listener on
   the app's engine);
3. prints a markdown table per measure across sizes, and writes the figures as JSON.

Deep pages: page 200 of the assessments and findings lists, or their last page when the list
is shorter (the page used is in the JSON and in the row label).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import insert  # noqa: E402

PASSWORD = "scale bench passphrase 2026"
FAST_HASH = "pbkdf2:sha256:1000"
SECRET_KEY = "scale-bench-secret-key-not-for-production-0123456789"
BATCH = 5000
DEEP_PAGE = 200
#: the day the programme is generated around (dates spread over the years before it)
TODAY = date(2026, 12, 1)
COUNTRIES = ["JP"] * 12 + ["US", "US", "SG", "VN", "IN", "PH", "CN", "KR", "TW", "DE"]
CATEGORIES = [
    "personal data",
    "secrecy of communications",
    "authentication data",
    "employee personal data",
    "payment data",
]
SERVICES = [
    "cloud hosting",
    "call centre",
    "payroll processing",
    "software development",
    "data centre operations",
    "printing and mailing",
    "network operations",
    "identity verification",
]
SUFFIXES = ["K.K.", "Co., Ltd.", "Inc.", "Pte. Ltd.", "GK", "LLC"]


# ------------------------------------------------------------------------------ sizes, databases


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


def size_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


def pg_env(args: argparse.Namespace) -> dict[str, str]:
    return {**os.environ, "PGHOST": args.pg_host, "PGPORT": str(args.pg_port), "PGUSER": "postgres"}


def database_url(args: argparse.Namespace, name: str) -> str:
    return f"postgresql+psycopg://postgres@{args.pg_host}:{args.pg_port}/{name}"


def existing_count(args: argparse.Namespace, name: str) -> int | None:
    """How many assessments database ``name`` holds, or None if it does not exist (or is empty)."""
    engine = sa.create_engine(database_url(args, name))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM assessment")).scalar_one())
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return None
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------ generation


@dataclass
class Ids:
    """The next free id of each table this script fills (ids are given, not returned)."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


class Writer:
    """Buffers rows per table and inserts them in batches, parents before children."""

    ORDER = (
        "subcontractor",
        "assessment",
        "assessment_auditor",
        "answer",
        "finding",
        "evidence",
        "evidence_blob",
        "audit_event",
    )

    def __init__(self, session: Any, tables: dict[str, sa.Table]) -> None:
        self.session = session
        self.tables = tables
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.ORDER}
        self.written: dict[str, int] = dict.fromkeys(self.ORDER, 0)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append(row)

    def maybe_flush(self) -> None:
        if sum(len(r) for r in self.rows.values()) >= BATCH * 8:
            self.flush()

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.rows[name]
            for start in range(0, len(rows), BATCH):
                self.session.execute(insert(self.tables[name]), rows[start : start + BATCH])
            self.written[name] += len(rows)
            self.rows[name] = []
        self.session.commit()


@dataclass
class Version:
    id: int
    slug: str
    definition: Any
    items: list[Any]  # ItemDefinition, in order
    item_ids: dict[str, int]


class Chain:
    """The audit trail's hash chain, computed exactly as ``services.events.record`` does."""

    def __init__(self, tail: str, ids: Ids, writer: Writer) -> None:
        from audit.services import events

        self.events = events
        self.tail = tail
        self.ids = ids
        self.writer = writer

    def record(
        self,
        at: datetime,
        actor: Any,
        action: str,
        object_type: str,
        object_id: Any,
        assessment_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        row = {
            "id": self.ids.take("audit_event"),
            "occurred_at": at,
            "actor_id": actor.id,
            "actor": actor.email,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "assessment_id": assessment_id,
            "before": before,
            "after": after,
            "prev_hash": self.tail,
        }
        row["hash"] = self.events.event_digest(SimpleNamespace(**row))  # type: ignore[arg-type]
        self.tail = row["hash"]
        self.writer.add("audit_event", row)


def months_before(day: date, months: float) -> date:
    return day - timedelta(days=round(months * 30.44))


def moment(day: date, rng: random.Random) -> datetime:
    return datetime(day.year, day.month, day.day, 0, 0, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(8 * 3600, 19 * 3600), microseconds=rng.randrange(1_000_000)
    )


def answer_for(item: Any, quality: float, rng: random.Random) -> str:
    allowed = list(item.answers)
    roll = rng.random()
    if roll < quality:
        wanted = "compliant"
    elif roll < quality + (1 - quality) * 0.5:
        wanted = "partial"
    elif roll < quality + (1 - quality) * 0.8:
        wanted = "non_compliant"
    else:
        wanted = "not_applicable"
    return wanted if wanted in allowed else allowed[0]


def generate(args: argparse.Namespace, n: int, name: str) -> dict[str, Any]:
    """A fresh database ``name`` with ``n`` assessments; returns what was made and how long."""
    started = time.perf_counter()
    env = pg_env(args)
    subprocess.run(["dropdb", "--if-exists", name], env=env, check=True)
    subprocess.run(["createdb", name], env=env, check=True)
    flask_env = {**env, "DATABASE_URL": database_url(args, name), "SECRET_KEY": SECRET_KEY}
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    for command in (["db", "upgrade"], ["checklists", "load"]):
        subprocess.run(
            flask + command, cwd=ROOT, env=flask_env, check=True, stdout=subprocess.DEVNULL
        )

    from sqlmodel import select

    from audit import create_app
    from audit.extensions import db
    from audit.models import (
        Answer,
        Assessment,
        AssessmentAuditor,
        AuditEvent,
        Checklist,
        ChecklistItem,
        ChecklistVersion,
        Evidence,
        EvidenceBlob,
        Finding,
        Subcontractor,
        table_of,
    )
    from audit.rules import findings as finding_drafts
    from audit.rules import score
    from audit.services import assessments as assessment_service
    from audit.services import checklists, users

    rng = random.Random(12_000 + n)
    app = create_app({"DATABASE_URL": database_url(args, name), "SECRET_KEY": SECRET_KEY})
    made: dict[str, Any] = {}
    with app.app_context():
        session = db.session
        admin = users.create_user(
            session, "scale-admin@example.com", PASSWORD, "admin", hash_method=FAST_HASH
        )
        auditors = [
            users.create_user(
                session,
                f"scale-auditor-{i:02d}@example.com",
                PASSWORD,
                "auditor",
                hash_method=FAST_HASH,
            )
            for i in range(20)
        ]
        reviewers = [
            users.create_user(
                session,
                f"scale-reviewer-{i:02d}@example.com",
                PASSWORD,
                "reviewer",
                hash_method=FAST_HASH,
            )
            for i in range(5)
        ]
        users.create_user(
            session, "scale-viewer@example.com", PASSWORD, "viewer", hash_method=FAST_HASH
        )
        session.commit()

        versions: list[Version] = []
        for version in session.exec(
            select(ChecklistVersion)
            .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
            .order_by(ChecklistVersion.id)
        ).all():
            definition = checklists.definition_for(version)
            ids = dict(
                session.exec(
                    select(ChecklistItem.ref, ChecklistItem.id).where(
                        ChecklistItem.version_id == version.id
                    )
                ).all()
            )
            versions.append(
                Version(
                    version.id, version.content["slug"], definition, list(definition.items()), ids
                )
            )
        # most programmes audit against the oversight checklist; the others now and then
        by_slug = {v.slug: v for v in versions}
        weighted = [by_slug["subcontractor-oversight"]] * 6 + [
            v for v in versions if v.slug != "subcontractor-oversight"
        ]

        tables = {
            "subcontractor": table_of(Subcontractor),
            "assessment": table_of(Assessment),
            "assessment_auditor": table_of(AssessmentAuditor),
            "answer": table_of(Answer),
            "finding": table_of(Finding),
            "evidence": table_of(Evidence),
            "evidence_blob": table_of(EvidenceBlob),
            "audit_event": table_of(AuditEvent),
        }
        ids = Ids()
        for table in (
            "subcontractor",
            "assessment",
            "answer",
            "finding",
            "evidence",
            "audit_event",
        ):
            top = session.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
            ids.next[table] = int(top) + 1
        tail = session.exec(
            select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)  # type: ignore[union-attr]
        ).first()
        writer = Writer(session, tables)
        chain = Chain(tail or "0" * 64, ids, writer)

        n_sub = max(1, n // 10)
        # assessments per subcontractor: about ten each, from 3 to 17, n in all
        counts = [1] * n_sub
        for _ in range(n - n_sub):
            counts[rng.randrange(n_sub)] += 1 if rng.random() < 0.5 else 0
        while sum(counts) < n:
            counts[rng.randrange(n_sub)] += 1

        # ---- subcontractors, with re-entrustment chains (a quarter are someone's subcontractor)
        subs: list[dict[str, Any]] = []
        for s in range(n_sub):
            sub_id = ids.take("subcontractor")
            parent = None
            if subs and rng.random() < 0.25:
                parent = rng.choice(subs[-200:])["id"]
            tier = rng.choices((1, 2, 3), weights=(2, 3, 5))[0]
            start = months_before(TODAY, rng.uniform(24, 120))
            created = moment(start, rng)
            row = {
                "id": sub_id,
                "name": f"Scale Subcontractor {s + 1:06d} {rng.choice(SUFFIXES)}",
                "country": rng.choice(COUNTRIES),
                "services": rng.choice(SERVICES),
                "data_categories": rng.sample(CATEGORIES, rng.randint(1, 3)),
                "tier": tier,
                "parent_id": parent,
                "contract_start": start,
                "contract_end": None
                if rng.random() < 0.7
                else TODAY + timedelta(days=rng.randint(-200, 900)),
                "audit_cadence_months": None if rng.random() < 0.9 else rng.choice((6, 12, 18)),
                "contact_email": f"security@sub{s + 1:06d}.example.com",
                "notes": "",
                "revision": 1,
                "created_at": created,
                "updated_at": None,
            }
            subs.append(row)
            writer.add("subcontractor", row)
            chain.record(
                created,
                admin,
                "subcontractor.created",
                "subcontractor",
                sub_id,
                after={"name": row["name"], "country": row["country"], "tier": tier},
            )
        writer.flush()

        # ---- assessments, oldest first per subcontractor
        states_made: dict[str, int] = {}
        for sub, count in zip(subs, counts, strict=True):
            quality = rng.uniform(0.55, 0.98)
            cadence = sub["audit_cadence_months"] or {1: 12, 2: 24, 3: 36}[sub["tier"]]
            spacing = min(cadence, 60 / max(count, 1) * 1.0) if count > 1 else cadence
            # the newest approval: within the cadence for most, overdue for some
            newest = rng.uniform(0.1, cadence * (1.25 if rng.random() < 0.2 else 0.9))
            never_rated = rng.random() < 0.03
            for j in range(count):
                age = newest + (count - 1 - j) * spacing
                is_last = j == count - 1
                if never_rated:
                    state = rng.choice(("draft", "in_progress"))
                elif is_last and rng.random() < 0.25:
                    state = rng.choice(("draft", "in_progress", "submitted", "returned"))
                else:
                    state = "approved"
                states_made[state] = states_made.get(state, 0) + 1
                version = rng.choice(weighted)
                opened = months_before(TODAY, age + 2)
                approved_day = months_before(TODAY, age)
                period_end = months_before(TODAY, age + 2.5)
                a_id = ids.take("assessment")
                team = rng.sample(auditors, rng.choice((1, 1, 2)))
                reviewer = rng.choice(reviewers)
                created_at = moment(opened, rng)
                due = (
                    approved_day + timedelta(days=rng.randint(-20, 40))
                    if state == "approved"
                    else TODAY + timedelta(days=rng.randint(-60, 120))
                )
                # answers: every item, except drafts (none) and work in progress (most)
                share = {"draft": 0.0, "in_progress": 0.6}.get(state, 1.0)
                answers: dict[str, str] = {}
                for item in version.items:
                    if share >= 1.0 or rng.random() < share:
                        answers[item.ref] = answer_for(item, quality, rng)
                snapshot = None
                submitted_at = approved_at = None
                if state in ("submitted", "approved", "returned"):
                    submitted_at = moment(approved_day - timedelta(days=rng.randint(3, 20)), rng)
                    result = score(version.definition, answers)
                    snapshot = assessment_service._snapshot(result)
                    snapshot["computed_at"] = submitted_at.isoformat()
                    if state == "approved":
                        approved_at = max(moment(approved_day, rng), submitted_at)
                        snapshot["computed_at"] = approved_at.isoformat()
                writer.add(
                    "assessment",
                    {
                        "id": a_id,
                        "subcontractor_id": sub["id"],
                        "checklist_version_id": version.id,
                        "title": f"{opened.year} {version.slug.replace('-', ' ')} review",
                        "state": state,
                        "period_start": months_before(period_end, 12),
                        "period_end": period_end,
                        "due_date": due,
                        "reviewer_id": reviewer.id,
                        "created_by_id": team[0].id,
                        "revision": 1 + len(answers) + (2 if approved_at else 0),
                        "created_at": created_at,
                        "updated_at": approved_at or submitted_at or created_at,
                        "submitted_at": submitted_at,
                        "approved_at": approved_at,
                        "review_comment": None
                        if state != "returned"
                        else "Add the evidence for the gaps.",
                        "score_snapshot": snapshot,
                    },
                )
                for person in team:
                    writer.add("assessment_auditor", {"assessment_id": a_id, "user_id": person.id})
                chain.record(
                    created_at,
                    team[0],
                    "assessment.created",
                    "assessment",
                    a_id,
                    assessment_id=a_id,
                    after={
                        "subcontractor_id": sub["id"],
                        "checklist": f"{version.slug} 1.0.0",
                        "auditor_ids": [p.id for p in team],
                        "reviewer_id": reviewer.id,
                        "due_date": due.isoformat(),
                    },
                )
                answered_at = created_at
                for ref, status in answers.items():
                    answered_at += timedelta(seconds=rng.randint(20, 900))
                    comment = (
                        ""
                        if status in ("compliant", "not_applicable")
                        else f"Gap seen at the {ref} walkthrough; remediation agreed."
                    )
                    writer.add(
                        "answer",
                        {
                            "id": ids.take("answer"),
                            "assessment_id": a_id,
                            "item_id": version.item_ids[ref],
                            "status": status,
                            "comment": comment,
                            "answered_by_id": team[0].id,
                            "answered_at": answered_at,
                        },
                    )
                    chain.record(
                        answered_at,
                        team[0],
                        "answer.saved",
                        "answer",
                        f"{a_id}:{ref}",
                        assessment_id=a_id,
                        after={"status": status, "comment": comment},
                    )
                    if rng.random() < 1 / 7:
                        e_id = ids.take("evidence")
                        data = f"scale evidence {e_id} for {a_id}:{ref}\n".encode()
                        writer.add(
                            "evidence",
                            {
                                "id": e_id,
                                "assessment_id": a_id,
                                "item_id": version.item_ids[ref],
                                "filename": f"{ref}-evidence.pdf",
                                "content_type": "application/pdf",
                                "size": len(data),
                                "sha256": hashlib.sha256(data).hexdigest(),
                                "uploaded_by_id": team[0].id,
                                "uploaded_at": answered_at,
                            },
                        )
                        writer.add("evidence_blob", {"evidence_id": e_id, "data": data})
                for draft in finding_drafts(version.definition, answers):
                    if state != "approved":
                        status = rng.choice(("open", "open", "in_remediation"))
                    elif age > 12:
                        status = rng.choices(
                            ("closed", "risk_accepted", "open"), weights=(85, 10, 5)
                        )[0]
                    else:
                        status = rng.choices(
                            ("open", "in_remediation", "closed", "risk_accepted"),
                            weights=(35, 35, 25, 5),
                        )[0]
                    planned = status != "open" or rng.random() < 0.4
                    writer.add(
                        "finding",
                        {
                            "id": ids.take("finding"),
                            "assessment_id": a_id,
                            "item_id": version.item_ids[draft.ref],
                            "severity": draft.severity,
                            "title": draft.title,
                            "current": True,
                            "status": status,
                            "remediation_plan": "Fix it by the due date." if planned else "",
                            "owner": f"owner{rng.randint(1, 99)}@sub.example.com"
                            if planned
                            else "",
                            "due_date": (approved_day + timedelta(days=rng.randint(30, 180)))
                            if planned
                            else None,
                            "revision": 1,
                            "created_at": answered_at,
                            "updated_at": None,
                        },
                    )
                if submitted_at is not None:
                    assert snapshot is not None
                    chain.record(
                        submitted_at,
                        team[0],
                        "assessment.submitted",
                        "assessment",
                        a_id,
                        assessment_id=a_id,
                        before={"state": "in_progress"},
                        after={
                            "state": "submitted",
                            "score": snapshot["score"],
                            "rating": snapshot["rating"],
                        },
                    )
                if approved_at is not None:
                    assert snapshot is not None
                    chain.record(
                        approved_at,
                        reviewer,
                        "assessment.approved",
                        "assessment",
                        a_id,
                        assessment_id=a_id,
                        before={"state": "submitted"},
                        after={
                            "state": "approved",
                            "score": snapshot["score"],
                            "rating": snapshot["rating"],
                        },
                    )
                writer.maybe_flush()
        writer.flush()
        for table in ids.next:
            session.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )
        session.commit()
        made = dict(writer.written) | {"states": states_made}
    db.engine_for(app).dispose()
    # planner statistics: this machine's PostgreSQL runs with autovacuum off (issue 12, point 5)
    subprocess.run(
        ["psql", "-q", "-d", name, "-c", "ANALYZE"], env=env, check=True, stdout=subprocess.DEVNULL
    )
    made["seconds"] = round(time.perf_counter() - started, 1)
    return made


# ------------------------------------------------------------------------------ measurement


@dataclass
class Target:
    label: str
    path: str
    api: bool = False


def targets(ctx: dict[str, Any]) -> list[Target]:
    deep_a, deep_f = ctx["deep_assessments"], ctx["deep_findings"]
    return [
        Target("dashboard", "/"),
        Target("subcontractors list, page 1", "/subcontractors/"),
        Target(
            "subcontractors filtered (JP, rating D), API",
            "/api/v1/subcontractors?country=JP&rating=D",
            api=True,
        ),
        Target("subcontractors overdue", "/subcontractors/?overdue=1"),
        Target("findings list, page 1", "/findings/"),
        Target(f"findings list, page {deep_f}", f"/findings/?page={deep_f}"),
        Target("new assessment form", "/assessments/new"),
        Target("new subcontractor form", "/subcontractors/new"),
        Target("assessments list, page 1", "/assessments/"),
        Target(f"assessments list, page {deep_a}", f"/assessments/?page={deep_a}"),
        Target("one assessment, its answers, its score", f"/assessments/{ctx['assessment_id']}"),
        Target(
            "one assessment's score, API", f"/api/v1/assessments/{ctx['assessment_id']}/score", True
        ),
        Target("GET /api/v1/me", "/api/v1/me", api=True),
        Target("GET /api/v1/assessments, page 1", "/api/v1/assessments", api=True),
        Target(
            f"GET /api/v1/assessments, page {deep_a}",
            f"/api/v1/assessments?page={deep_a}&page_size={ctx['page_size']}",
            api=True,
        ),
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(share * len(ordered)) - 1)
    return ordered[rank]


def measure(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """p50, p95 and SQL statements per request of every target, on database ``name``."""
    from sqlmodel import func, select

    from audit import create_app
    from audit.extensions import db
    from audit.models import Assessment, Finding, User
    from audit.services import tokens

    app = create_app(
        {
            "DATABASE_URL": database_url(args, name),
            "SECRET_KEY": SECRET_KEY,
            "RATELIMIT_ENABLED": False,
        }
    )
    # one log line per request to the terminal is not server time worth measuring
    logging.getLogger("kansa.request").disabled = True
    with app.app_context():
        session = db.session
        admin = session.exec(select(User).where(User.email == "scale-admin@example.com")).one()
        _, secret = tokens.create(session, admin, name="scale bench", scope="read")
        session.commit()
        page_size = int(app.config["PAGE_SIZE"])
        n_assessments = session.exec(select(func.count()).select_from(Assessment)).one()
        n_findings = session.exec(select(func.count()).select_from(Finding)).one()
        # an approved assessment in the middle of the table
        assessment_id = session.exec(
            select(Assessment.id)
            .where(Assessment.state == "approved", Assessment.id >= n_assessments // 2)
            .order_by(Assessment.id)
            .limit(1)
        ).one()
    engine = db.engine_for(app)
    ctx = {
        "assessment_id": assessment_id,
        "page_size": page_size,
        "deep_assessments": max(1, min(DEEP_PAGE, math.ceil(n_assessments / page_size))),
        # findings lists show current findings only; the last page of all of them is an upper bound
        "deep_findings": max(1, min(DEEP_PAGE, math.ceil(n_findings / page_size) // 2)),
    }
    statements: list[int] = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    client = app.test_client()
    login = client.get("/auth/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login)
    assert token, "no CSRF token on the sign-in page"
    signed = client.post(
        "/auth/login",
        data={"email": "scale-admin@example.com", "password": PASSWORD, "csrf_token": token[1]},
    )
    assert signed.status_code == 302, signed.status_code
    bearer = {"Authorization": f"Bearer {secret}"}

    results: dict[str, Any] = {}
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for target in targets(ctx):
            headers = bearer if target.api else {}
            times: list[float] = []
            queries: set[int] = set()
            for i in range(args.requests + args.warmup):
                statements[0] = 0
                begun = time.perf_counter()
                response = client.get(target.path, headers=headers)
                elapsed = time.perf_counter() - begun
                assert response.status_code == 200, (target.path, response.status_code)
                if i >= args.warmup:
                    times.append(elapsed * 1000)
                    queries.add(statements[0])
            results[target.label] = {
                "path": target.path,
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 0.95), 1),
                "queries": sorted(queries),
                "bytes": len(response.get_data()),
            }
            print(
                f"  {target.label}: p50 {results[target.label]['p50_ms']} ms, "
                f"p95 {results[target.label]['p95_ms']} ms, queries {sorted(queries)}",
                flush=True,
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
    return {"targets": results, "context": ctx}


# ------------------------------------------------------------------------------ report


def _label(base: str) -> str:
    """A target's label without its page number, so rows line up across sizes."""
    head, _, tail = base.rpartition(", page ")
    return f"{head}, deep page" if head and tail != "1" else base


def table(figures: dict[str, dict[str, Any]]) -> str:
    sizes = list(figures)
    rows: dict[str, dict[str, str]] = {}
    for size in sizes:
        for label, got in figures[size]["targets"].items():
            queries = "/".join(str(q) for q in got["queries"])
            cell = f"{got['p50_ms']:g} / {got['p95_ms']:g} ({queries} q)"
            if _label(label) != label:
                cell += f", p. {label.rpartition(' ')[2]}"
            rows.setdefault(_label(label), {})[size] = cell
    out = [
        "| page or endpoint | " + " | ".join(f"{s}: p50 / p95 ms (queries)" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for label, cells in rows.items():
        out.append(f"| {label} | " + " | ".join(cells.get(s, "—") for s in sizes) + " |")
    return "\n".join(out)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "?"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1k,10k", help="assessments per database: 1k,10k,100k")
    parser.add_argument("--reuse", action="store_true", help="keep a database of the right size")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per target")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    args = parser.parse_args(list(argv) if argv is not None else None)

    figures: dict[str, dict[str, Any]] = {}
    for text in args.sizes.split(","):
        n = parse_size(text)
        label = size_label(n)
        name = f"kansa_scale_{label}"
        have = existing_count(args, name) if args.reuse else None
        if have == n:
            print(f"{label}: reusing {name} ({n} assessments)", flush=True)
            made: dict[str, Any] = {"reused": True}
        else:
            print(f"{label}: generating {name} ...", flush=True)
            made = generate(args, n, name)
            print(f"{label}: generated in {made['seconds']} s: {made}", flush=True)
        if args.generate_only:
            figures[label] = {"generated": made, "targets": {}}
            continue
        print(f"{label}: measuring ({args.requests} requests per target) ...", flush=True)
        figures[label] = {"generated": made, **measure(args, name)}

    if not args.generate_only:
        print()
        print(table(figures))
    if args.json:
        meta = {
            "commit": commit(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
            "requests": args.requests,
        }
        Path(args.json).write_text(json.dumps({"meta": meta, "sizes": figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
