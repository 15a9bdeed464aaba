"""Tables: every model round-trips through the real database, and the schema refuses bad rows.

Rows are written in the app's session and read back in a new session, so the values compared
come from the database, not from the session's identity map.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel

from audit.extensions import db
from audit.models import (
    Answer,
    ApiToken,
    Assessment,
    AssessmentAuditor,
    AuditEvent,
    Checklist,
    ChecklistItem,
    ChecklistSection,
    ChecklistVersion,
    Evidence,
    EvidenceBlob,
    Finding,
    IdempotencyKey,
    Installation,
    LoginAttempt,
    ReportCache,
    Subcontractor,
    User,
    ViewerGrant,
    Webhook,
    WebhookDelivery,
    metadata,
)
from tests.conftest import ENGINE

JST = timezone(timedelta(hours=9))
# an aware time in Tokyo with microseconds: it must come back as the same instant, in UTC
MOMENT = datetime(2026, 3, 28, 18, 30, 15, 123456, tzinfo=JST)
HASH = "ab" * 32


def read_back(model: type[SQLModel], key: Any) -> SQLModel:
    """The row as the database holds it, through a new session."""
    with Session(db.engine) as fresh:
        row = fresh.get(model, key)
        assert row is not None, f"{model.__tablename__} {key} was not stored"
        fresh.expunge(row)
        return row


def assert_round_trip(session, row: SQLModel) -> SQLModel:
    session.add(row)
    session.commit()
    written = row.model_dump()
    key = tuple(getattr(row, c.name) for c in row.__table__.primary_key.columns)
    back = read_back(type(row), key[0] if len(key) == 1 else key)
    assert back.model_dump() == written
    for name, value in written.items():
        if isinstance(value, datetime):
            got = getattr(back, name)
            assert got.tzinfo is not None and got.utcoffset() == timedelta(0), name
            assert got == value, name
    return back


# --------------------------------------------------------------------------- a small world


class World:
    """One row of each parent table, made directly with the models."""

    def __init__(self, session) -> None:
        self.session = session
        self.user = self.add(
            User(email="auditor@kansa.example", name="Kenji", role="auditor", password_hash="x")
        )
        self.reviewer = self.add(
            User(email="reviewer@kansa.example", name="Hiro", role="reviewer", password_hash="x")
        )
        self.checklist = self.add(Checklist(slug="demo", title_en="Demo", title_ja="デモ"))
        self.version = self.add(self.new_version("1.0.0", HASH))
        self.section = self.add(
            ChecklistSection(version_id=self.version.id, ref="S-1", position=0, title_en="S")
        )
        self.item = self.add(self.new_item("S-1.1"))
        self.item2 = self.add(self.new_item("S-1.2"))
        self.company = self.add(Subcontractor(name="Aozora", country="JP", tier=1))
        self.assessment = self.add(self.new_assessment())
        session.commit()

    def add(self, row: SQLModel) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def new_version(self, version: str, content_hash: str) -> ChecklistVersion:
        return ChecklistVersion(
            checklist_id=self.checklist.id,
            version=version,
            sort_key=version,
            title_en="Demo",
            item_count=2,
            content={"slug": "demo", "version": version},
            content_hash=content_hash,
            source="demo/1.0.0.yaml",
        )

    def new_item(self, ref: str, **overrides: Any) -> ChecklistItem:
        fields = {
            "version_id": self.version.id,
            "section_id": self.section.id,
            "ref": ref,
            "position": 0,
            "question_en": "Q?",
            "guidance_en": "G",
            "weight": 3,
            "subject": "subcontractor",
            "answers": ["compliant", "non_compliant"],
            "references": {"appi": ["Art. 25"]},
        }
        return ChecklistItem(**(fields | overrides))

    def new_assessment(self, **overrides: Any) -> Assessment:
        fields = {
            "subcontractor_id": self.company.id,
            "checklist_version_id": self.version.id,
            "title": "Aozora 2026",
        }
        return Assessment(**(fields | overrides))

    def new_answer(self, **overrides: Any) -> Answer:
        fields = {"assessment_id": self.assessment.id, "item_id": self.item.id, "status": "partial"}
        return Answer(**(fields | overrides))

    def new_finding(self, **overrides: Any) -> Finding:
        fields = {
            "assessment_id": self.assessment.id,
            "item_id": self.item.id,
            "severity": "high",
            "title": "Register incomplete",
        }
        return Finding(**(fields | overrides))

    def new_evidence(self, **overrides: Any) -> Evidence:
        fields = {
            "assessment_id": self.assessment.id,
            "filename": "register.pdf",
            "content_type": "application/pdf",
            "size": 3,
            "sha256": "0" * 64,
        }
        return Evidence(**(fields | overrides))


@pytest.fixture
def world(session) -> World:
    return World(session)


# --------------------------------------------------------------------------- round trips


def test_user_round_trip(session) -> None:
    back = assert_round_trip(
        session,
        User(
            email="aiko@kansa.example",
            name="相川 愛子",
            role="admin",
            password_hash="scrypt:32768:8:1$salt$hash",
            active=False,
            created_at=MOMENT,
            last_login_at=MOMENT + timedelta(minutes=5),
        ),
    )
    assert back.created_at == MOMENT and back.created_at.tzinfo is not None
    assert back.created_at.hour == 9  # 18:30 in Tokyo is 09:30 UTC
    assert back.active is False


def test_api_token_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        ApiToken(
            user_id=world.user.id,
            name="CI",
            prefix="kansa_ab12",
            token_hash=HASH,
            scope="write",
            created_at=MOMENT,
            expires_at=MOMENT + timedelta(days=90),
            revoked_at=None,
            last_used_at=MOMENT.astimezone(UTC),
        ),
    )


def test_checklist_and_version_round_trip(session, world: World) -> None:
    back = read_back(Checklist, world.checklist.id)
    assert (back.slug, back.title_en, back.title_ja) == ("demo", "Demo", "デモ")
    assert back.created_at.tzinfo is not None
    content = {
        "slug": "demo",
        "version": "2.0.0",
        "title": {"en": "Demo", "ja": "デモ"},
        "description": None,
        "scoring": {"points": {"compliant": 1.0, "partial": 0.5}, "bands": {"A": 85.0}},
        "sections": [{"ref": "S-1", "items": [{"ref": "S-1.1", "weight": 3, "critical": True}]}],
    }
    version = world.new_version("2.0.0", "cd" * 32)
    version.content = content
    version.title_ja = "デモ"
    version.effective_date = "2026-04-01"
    version.published_at = MOMENT
    version.published_by_id = world.user.id
    back = assert_round_trip(session, version)
    assert back.content == content
    assert back.content["scoring"]["points"]["partial"] == 0.5


def test_section_and_item_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        ChecklistSection(
            version_id=world.version.id, ref="S-2", position=1, title_en="Two", title_ja="二"
        ),
    )
    back = assert_round_trip(
        session,
        world.new_item(
            "S-1.3",
            position=2,
            question_ja="質問？",
            guidance_ja="証跡",
            weight=5,
            critical=True,
            subject="both",
            answers=["compliant", "partial", "non_compliant", "not_applicable"],
            references={"appi": ["Art. 25", "Art. 26"], "case_basis": ["PPC-2024-03-28"]},
        ),
    )
    assert back.references == {"appi": ["Art. 25", "Art. 26"], "case_basis": ["PPC-2024-03-28"]}
    assert back.critical is True


def test_subcontractor_round_trip(session, world: World) -> None:
    back = assert_round_trip(
        session,
        Subcontractor(
            name="Hanul Secure Maintenance Co., Ltd.",
            country="KR",
            services="Security maintenance",
            data_categories=["personal data", "認証情報"],
            tier=2,
            parent_id=world.company.id,
            contract_start=date(2022, 1, 1),
            contract_end=date(2026, 12, 31),
            audit_cadence_months=18,
            contact_email="sec@hanul.example",
            notes="re-entrusted",
            created_at=MOMENT,
            updated_at=MOMENT + timedelta(seconds=1),
        ),
    )
    assert back.data_categories == ["personal data", "認証情報"]
    assert back.contract_end == date(2026, 12, 31)
    assert back.cadence_months == 18


def test_assessment_and_auditor_round_trip(session, world: World) -> None:
    snapshot = {
        "score": 72.5,
        "rating": "B",
        "provisional": False,
        "caps": [],
        "sections": [{"ref": "S-1", "score": 72.5}],
        "counts": {"compliant": 1, "partial": 1},
    }
    back = assert_round_trip(
        session,
        world.new_assessment(
            title="Hanul 2026",
            state="approved",
            period_start=date(2026, 7, 1),
            period_end=date(2026, 9, 30),
            due_date=date(2026, 12, 15),
            reviewer_id=world.reviewer.id,
            created_by_id=world.user.id,
            revision=4,
            created_at=MOMENT,
            updated_at=MOMENT,
            submitted_at=MOMENT + timedelta(hours=1),
            approved_at=MOMENT + timedelta(days=1),
            review_comment="Approved.",
            score_snapshot=snapshot,
        ),
    )
    assert back.score_snapshot == snapshot
    assert back.editable is False
    assert_round_trip(session, AssessmentAuditor(assessment_id=back.id, user_id=world.user.id))


def test_answer_finding_evidence_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        world.new_answer(
            comment="Register omits one party.", answered_by_id=world.user.id, answered_at=MOMENT
        ),
    )
    assert_round_trip(
        session,
        world.new_finding(
            severity="critical",
            current=False,
            status="in_remediation",
            remediation_plan="Add the party; review quarterly.",
            owner="CISO",
            due_date=date(2026, 6, 30),
            created_at=MOMENT,
            updated_at=MOMENT,
        ),
    )
    evidence = assert_round_trip(
        session,
        world.new_evidence(item_id=world.item.id, uploaded_by_id=world.user.id, uploaded_at=MOMENT),
    )
    data = bytes(range(256)) * 4
    back = assert_round_trip(session, EvidenceBlob(evidence_id=evidence.id, data=data))
    assert back.data == data


def test_report_cache_round_trip(session, world: World) -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 8
    back = assert_round_trip(
        session,
        ReportCache(
            content_hash=HASH,
            assessment_id=world.assessment.id,
            lang="ja",
            pdf=pdf,
            size=len(pdf),
            created_at=MOMENT,
        ),
    )
    assert back.pdf == pdf


def new_webhook(world: World) -> Webhook:
    return Webhook(
        url="https://hooks.example/kansa?x=1",
        secret="s3cret-shared",
        events=["assessment.approved", "finding.updated"],
        active=False,
        description="SOC feed",
        created_by_id=world.user.id,
        created_at=MOMENT,
    )


def new_delivery(webhook_id: int, **overrides: Any) -> WebhookDelivery:
    fields = {
        "delivery_id": "7f0c1a52-4a1e-4b8e-9a51-0c0d2b0e9f11",
        "webhook_id": webhook_id,
        "event": "assessment.approved",
        "payload": {"assessment": {"id": 1, "rating": "B"}, "note": "承認"},
    }
    return WebhookDelivery(**(fields | overrides))


def test_webhook_and_delivery_round_trip(session, world: World) -> None:
    hook = assert_round_trip(session, new_webhook(world))
    assert hook.events == ["assessment.approved", "finding.updated"]
    assert_round_trip(
        session,
        new_delivery(
            hook.id,
            state="failed",
            attempts=3,
            next_attempt_at=MOMENT,
            locked_until=MOMENT + timedelta(seconds=30),
            locked_by="worker-1",
            last_status=503,
            last_error="Service Unavailable",
            created_at=MOMENT,
            delivered_at=None,
        ),
    )


def test_webhook_delivery_constraints(session, world: World) -> None:
    hook = world.add(new_webhook(world))
    session.commit()
    for bad in (
        new_delivery(hook.id, state="lost"),
        new_delivery(999_999),
    ):
        session.add(bad)
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    session.add(new_delivery(hook.id))
    session.commit()
    session.add(new_delivery(hook.id, event="finding.updated"))  # same delivery_id
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    session.execute(sa.delete(Webhook).where(Webhook.id == hook.id))
    session.commit()
    with Session(db.engine) as fresh:
        total = fresh.execute(sa.select(sa.func.count()).select_from(WebhookDelivery))
        assert total.scalar_one() == 0


def test_audit_event_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        AuditEvent(
            occurred_at=MOMENT,
            actor_id=world.user.id,
            actor="auditor@kansa.example",
            action="answer.saved",
            object_type="answer",
            object_id="1:S-1.1",
            assessment_id=world.assessment.id,
            before=None,
            after={"status": "partial", "comment": "一部のみ", "n": [1, 2.5, None, True]},
            prev_hash="0" * 64,
            hash=HASH,
        ),
    )


def test_login_attempt_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        LoginAttempt(
            email="auditor@kansa.example",
            address="203.0.113.9",
            succeeded=False,
            attempted_at=MOMENT,
        ),
    )


def test_idempotency_key_round_trip(session, world: World) -> None:
    assert_round_trip(
        session,
        IdempotencyKey(
            user_id=world.user.id,
            key="~" * 255,
            fingerprint="f" * 64,
            created_at=MOMENT,
            status=201,
            headers={"Location": "/api/v1/assessments/1", "ETag": '"a1-r1"'},
            body='{"title": "年次監査"}'.encode() + bytes(range(256)),
        ),
    )


def test_idempotency_keys_are_unique_per_user(session, world: World) -> None:
    session.add(IdempotencyKey(user_id=world.user.id, key="k", fingerprint="f" * 64))
    session.commit()
    session.add(IdempotencyKey(user_id=world.user.id, key="k", fingerprint="e" * 64))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_installation_round_trip_and_only_one_row(session, world: World) -> None:
    session.exec(sa.delete(Installation))  # the migrations made one on SQLite's template
    session.commit()
    assert_round_trip(
        session,
        Installation(id=1, namespace="0b9e1f5c-4c7e-4d1a-9f3e-2a6b8c0d1e2f", created_at=MOMENT),
    )
    session.add(Installation(id=2, namespace="1b9e1f5c-4c7e-4d1a-9f3e-2a6b8c0d1e2f"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_viewer_grant_round_trip_and_cascades(session, world: World) -> None:
    viewer = world.add(User(email="v@kansa.example", name="Vi", role="viewer", password_hash="x"))
    assert_round_trip(
        session,
        ViewerGrant(
            user_id=viewer.id,
            subcontractor_id=world.company.id,
            granted_by_id=world.reviewer.id,
            granted_at=MOMENT,
        ),
    )
    session.add(ViewerGrant(user_id=viewer.id, subcontractor_id=world.company.id))
    with pytest.raises(IntegrityError):  # one grant per viewer and subcontractor
        session.flush()
    session.rollback()
    session.add(ViewerGrant(user_id=viewer.id, subcontractor_id=999_999))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    session.execute(sa.delete(User).where(User.id == viewer.id))
    session.commit()
    with Session(db.engine) as fresh:
        total = fresh.execute(sa.select(sa.func.count()).select_from(ViewerGrant))
        assert total.scalar_one() == 0


def test_default_timestamps_are_aware_utc(session, world: World) -> None:
    back = read_back(Assessment, world.assessment.id)
    assert back.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - back.created_at) < timedelta(minutes=5)
    assert (back.state, back.revision, back.score_snapshot) == ("draft", 1, None)


def test_every_table_has_a_round_trip_test() -> None:
    tested = {
        "user_account",
        "api_token",
        "checklist",
        "checklist_version",
        "checklist_section",
        "checklist_item",
        "subcontractor",
        "assessment",
        "assessment_auditor",
        "answer",
        "finding",
        "evidence",
        "evidence_blob",
        "audit_event",
        "report_cache",
        "webhook",
        "webhook_delivery",
        "login_attempt",
        "idempotency_key",
        "installation",
        "viewer_grant",
    }
    assert set(metadata.tables) == tested


def test_naive_datetimes_are_refused(session, world: World) -> None:
    naive = datetime(2026, 3, 28, 9, 30)
    session.add(world.new_answer(answered_at=naive))
    with pytest.raises(StatementError, match="naive datetime refused"):
        session.flush()
    session.rollback()
    with Session(db.engine) as fresh:
        assert fresh.execute(sa.select(sa.func.count()).select_from(Answer)).scalar_one() == 0
    # and in a query parameter too
    with pytest.raises(StatementError, match="naive datetime refused"):
        session.execute(sa.select(Answer).where(Answer.answered_at > naive)).all()
    session.rollback()


def test_none_in_a_nullable_json_column_is_sql_null(session, world: World) -> None:
    """None is stored as SQL NULL (not the JSON text 'null'), so ``IS NULL`` finds it."""
    event = AuditEvent(
        actor="system",
        action="x.done",
        object_type="x",
        object_id="1",
        before=None,
        after={"a": 1},
        prev_hash="0" * 64,
        hash=HASH,
    )
    session.add(event)
    session.commit()
    with Session(db.engine) as fresh:
        found = (
            fresh.execute(sa.select(AuditEvent.id).where(AuditEvent.before.is_(None)))
            .scalars()
            .all()
        )
        assert found == [event.id]
        drafts = (
            fresh.execute(sa.select(Assessment.id).where(Assessment.score_snapshot.is_(None)))
            .scalars()
            .all()
        )
        assert drafts == [world.assessment.id]


# --------------------------------------------------------------------------- constraints

Bad = Callable[[World], SQLModel]

CONSTRAINT_CASES: list[tuple[str, Bad]] = [
    ("unique-checklist-version", lambda w: w.new_version("1.0.0", "cd" * 32)),
    ("unique-version-content-hash", lambda w: w.new_version("1.0.1", HASH)),
    ("unique-checklist-slug", lambda w: Checklist(slug="demo", title_en="Again")),
    (
        "unique-section-ref",
        lambda w: ChecklistSection(version_id=w.version.id, ref="S-1", position=1, title_en="x"),
    ),
    ("unique-item-ref", lambda w: w.new_item("S-1.1")),
    ("unique-answer-per-item", lambda w: _second(w.new_answer(), w.new_answer(status="compliant"))),
    ("unique-finding-per-item", lambda w: _second(w.new_finding(), w.new_finding(severity="low"))),
    (
        "unique-user-email",
        lambda w: User(email="auditor@kansa.example", name="x", role="viewer", password_hash="x"),
    ),
    ("unique-subcontractor-name", lambda w: Subcontractor(name="Aozora", country="JP", tier=2)),
    (
        "unique-auditor-assignment",
        lambda w: _second(
            AssessmentAuditor(assessment_id=w.assessment.id, user_id=w.user.id),
            AssessmentAuditor(assessment_id=w.assessment.id, user_id=w.user.id),
        ),
    ),
    ("fk-answer-missing-assessment", lambda w: w.new_answer(assessment_id=999_999)),
    ("fk-answer-missing-item", lambda w: w.new_answer(item_id=999_999)),
    (
        "fk-subcontractor-missing-parent",
        lambda w: Subcontractor(name="Orphan", country="JP", tier=2, parent_id=999_999),
    ),
    ("fk-assessment-missing-version", lambda w: w.new_assessment(checklist_version_id=999_999)),
    ("not-null-assessment-subcontractor", lambda w: w.new_assessment(subcontractor_id=None)),
    ("not-null-item-question", lambda w: w.new_item("S-1.9", question_en=None)),
    (
        "not-null-json-version-content",
        lambda w: _with(w.new_version("2.0.0", "cd" * 32), content=None),
    ),
    ("not-null-json-item-answers", lambda w: w.new_item("S-1.9", answers=None)),
    (
        "not-null-json-subcontractor-categories",
        lambda w: Subcontractor(name="No categories", country="JP", tier=1, data_categories=None),
    ),
    ("check-weight-7", lambda w: w.new_item("S-1.9", weight=7)),
    ("check-weight-0", lambda w: w.new_item("S-1.9", weight=0)),
    ("check-tier-4", lambda w: Subcontractor(name="Tier four", country="JP", tier=4)),
    ("check-assessment-state", lambda w: w.new_assessment(state="archived")),
    ("check-answer-status", lambda w: w.new_answer(status="maybe")),
    ("check-finding-severity", lambda w: w.new_finding(severity="urgent")),
    ("check-finding-status", lambda w: w.new_finding(status="ignored")),
    (
        "check-user-role",
        lambda w: User(email="boss@kansa.example", name="x", role="boss", password_hash="x"),
    ),
    (
        "check-token-scope",
        lambda w: ApiToken(user_id=w.user.id, name="t", prefix="p", token_hash=HASH, scope="root"),
    ),
    (
        "check-contract-end-before-start",
        lambda w: Subcontractor(
            name="Backwards",
            country="JP",
            tier=1,
            contract_start=date(2026, 1, 1),
            contract_end=date(2025, 12, 31),
        ),
    ),
    (
        "check-cadence-range",
        lambda w: Subcontractor(name="Slow", country="JP", tier=1, audit_cadence_months=61),
    ),
    (
        "check-period-end-before-start",
        lambda w: w.new_assessment(period_start=date(2026, 2, 1), period_end=date(2026, 1, 1)),
    ),
    ("check-evidence-sha256-length", lambda w: w.new_evidence(sha256="0" * 63)),
    ("check-evidence-size", lambda w: w.new_evidence(size=-1)),
    ("check-revision-0", lambda w: w.new_assessment(revision=0)),
    (
        "check-report-hash-length",
        lambda w: ReportCache(
            content_hash="ab", assessment_id=w.assessment.id, lang="en", pdf=b"%PDF", size=4
        ),
    ),
    (
        "fk-report-missing-assessment",
        lambda w: ReportCache(
            content_hash=HASH, assessment_id=999_999, lang="en", pdf=b"%PDF", size=4
        ),
    ),
    ("check-content-hash-length", lambda w: w.new_version("2.0.0", "cd" * 31)),
    (
        "check-event-hash-length",
        lambda w: AuditEvent(
            actor="system",
            action="x",
            object_type="x",
            object_id="1",
            prev_hash="0" * 64,
            hash="short",
        ),
    ),
]


def _second(first: SQLModel, second: SQLModel) -> SQLModel:
    """Store ``first`` (valid on its own) and return ``second``, which clashes with it."""
    db.session.add(first)
    db.session.flush()
    return second


def _with(row: SQLModel, **values: Any) -> SQLModel:
    for key, value in values.items():
        setattr(row, key, value)
    return row


@pytest.mark.parametrize("make", [pytest.param(m, id=i) for i, m in CONSTRAINT_CASES])
def test_constraint_violations_raise_integrity_error(session, world: World, make: Bad) -> None:
    def table_counts() -> dict[str, int]:
        with Session(db.engine) as fresh:
            return {
                t.name: fresh.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables
            }

    before = table_counts()
    bad = make(world)
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    assert table_counts() == before
    # the session is usable again after the rollback
    assert session.get(Assessment, world.assessment.id).title == "Aozora 2026"


def test_valid_variants_of_the_constraint_cases_are_accepted(session, world: World) -> None:
    """The refusals above are the constraint at work, not a broken row: the edges pass."""
    rows = [
        world.new_item("S-1.8", weight=1),
        world.new_item("S-1.9", weight=5),
        Subcontractor(
            name="Tier three",
            country="JP",
            tier=3,
            parent_id=world.company.id,
            contract_start=date(2026, 1, 1),
            contract_end=date(2026, 1, 1),
            audit_cadence_months=60,
        ),
        world.new_assessment(
            state="returned", revision=1, period_start=date(2026, 1, 1), period_end=date(2026, 1, 1)
        ),
        world.new_answer(item_id=world.item2.id, status="not_applicable"),
        world.new_finding(item_id=world.item2.id, severity="low", status="risk_accepted"),
        world.new_evidence(sha256="f" * 64, size=0),
        User(email="viewer@kansa.example", name="v", role="viewer", password_hash="x"),
        world.new_version("1.0.1", "cd" * 32),
    ]
    for row in rows:
        session.add(row)
        session.flush()
    session.commit()


def test_a_subcontractor_cannot_be_its_own_parent(session, world: World) -> None:
    world.company.parent_id = world.company.id
    session.add(world.company)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_a_parent_with_children_cannot_be_deleted(session, world: World) -> None:
    child = Subcontractor(name="Child", country="KR", tier=2, parent_id=world.company.id)
    session.add(child)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(sa.delete(Subcontractor).where(Subcontractor.id == world.company.id))
        session.flush()
    session.rollback()
    assert read_back(Subcontractor, world.company.id).name == "Aozora"


def test_deleting_an_assessment_cascades_to_what_it_holds(session, world: World) -> None:
    session.add(world.new_answer())
    session.add(world.new_finding())
    evidence = world.add(world.new_evidence())
    session.add(EvidenceBlob(evidence_id=evidence.id, data=b"pdf"))
    session.add(AssessmentAuditor(assessment_id=world.assessment.id, user_id=world.user.id))
    session.add(
        ReportCache(
            content_hash=HASH, assessment_id=world.assessment.id, lang="en", pdf=b"%PDF", size=4
        )
    )
    session.commit()
    session.execute(sa.delete(Assessment).where(Assessment.id == world.assessment.id))
    session.commit()
    with Session(db.engine) as fresh:
        for model in (Answer, Finding, Evidence, EvidenceBlob, AssessmentAuditor, ReportCache):
            count = fresh.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            assert count == 0, model.__tablename__


def test_the_database_is_the_one_under_test(session) -> None:
    assert session.get_bind().dialect.name == ENGINE
