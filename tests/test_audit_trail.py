"""The audit trail is append-only and hash-chained; `audit verify` finds any tampering."""

import pytest
import sqlalchemy as sa
from sqlmodel import select

from audit.extensions import db
from audit.models import AuditEvent
from audit.services import assessments as svc
from audit.services import events
from audit.services.assessments import AnswerInput
from tests import factories


@pytest.fixture
def trail(app, loaded_checklists):
    """A realistic trail: users, subcontractor, assessment, answers, submission, approval."""
    with app.app_context():
        session = db.session
        people = factories.team(session)
        assessment = factories.assessment(session, people)
        checklist = svc.definition(session, assessment)
        svc.save_answers(
            session,
            people.auditor,
            assessment,
            [AnswerInput(i.ref, "compliant") for i in checklist.items()],
            None,
        )
        svc.submit(session, people.auditor, assessment, None)
        svc.approve(session, people.reviewer, assessment, None)
        session.commit()
        ids = session.exec(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        return {"ids": ids, "assessment_id": assessment.id}


def raw(app, sql, **params):
    with db.engine_for(app).begin() as conn:
        conn.execute(sa.text(sql), params)


def verify(runner, *args):
    return runner.invoke(args=["audit", "verify", *args])


def test_every_state_change_is_an_event_with_who_and_before_after(app, trail):
    with app.app_context():
        rows = db.session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    actions = {r.action for r in rows}
    assert {
        "checklist_version.published",
        "user.created",
        "subcontractor.created",
        "assessment.created",
        "answer.saved",
        "assessment.submitted",
        "assessment.approved",
    } <= actions
    approved = next(r for r in rows if r.action == "assessment.approved")
    assert approved.actor == "reviewer@example.com"
    assert approved.before == {"state": "submitted"} and approved.after["state"] == "approved"
    assert rows[0].prev_hash == events.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))


def test_intact_trail_verifies(runner, trail):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert f"{len(trail['ids'])} events" in result.output


def test_the_chain_holds_across_transactions_and_a_rolled_back_savepoint(app, trail):
    """Events of one transaction chain to each other without reading the tail again; a
    savepoint rolled back takes its events with it, and the next event chains to the last
    one that stayed."""
    with app.app_context():
        session = db.session
        events.record(session, None, "test.one", "test", 1)
        events.record(session, None, "test.two", "test", 2)
        session.commit()
        kept = events.record(session, None, "test.three", "test", 3)
        savepoint = session.begin_nested()
        events.record(session, None, "test.dropped", "test", 4)
        savepoint.rollback()
        last = events.record(session, None, "test.four", "test", 5)
        session.commit()
        assert last.prev_hash == kept.hash
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert "test.dropped" not in [r.action for r in rows]
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
        assert events.verify(session).ok


def test_an_edited_event_is_named(app, runner, trail):
    victim = trail["ids"][len(trail["ids"]) // 2]
    raw(app, "UPDATE audit_event SET actor = 'someone-else@example.com' WHERE id = :id", id=victim)
    result = verify(runner)
    assert result.exit_code != 0
    assert f"audit trail broken at event {victim}: its content does not match" in result.output


def test_an_edited_before_value_is_named(app, runner, trail):
    with app.app_context():
        victim = db.session.exec(
            select(AuditEvent.id).where(AuditEvent.action == "assessment.approved")
        ).one()
    raw(
        app,
        "UPDATE audit_event SET after = :v WHERE id = :id",
        v='{"state": "approved", "score": 100.0, "rating": "A+"}',
        id=victim,
    )
    result = verify(runner)
    assert result.exit_code != 0 and f"event {victim}" in result.output


def test_a_deleted_event_is_found_at_the_next_one(app, runner, trail):
    ids = trail["ids"]
    raw(app, "DELETE FROM audit_event WHERE id = :id", id=ids[3])
    result = verify(runner)
    assert result.exit_code != 0
    assert f"audit trail broken at event {ids[4]}: its link to the previous event" in result.output


def test_reordered_events_are_found(app, runner, trail):
    a, b = trail["ids"][2], trail["ids"][3]
    # swap the content of two events (ids keep their order)
    with db.engine_for(app).begin() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.text("SELECT * FROM audit_event WHERE id IN (:a, :b)"), {"a": a, "b": b}
            )
        }
        conn.execute(
            sa.text("UPDATE audit_event SET hash = :h, prev_hash = :p WHERE id = :id"),
            [{"h": "x" * 64, "p": "y" * 64, "id": a}, {"h": "z" * 64, "p": "w" * 64, "id": b}],
        )
        for target, source in ((a, rows[b]), (b, rows[a])):
            conn.execute(
                sa.text(
                    "UPDATE audit_event SET action = :action, actor = :actor, hash = :hash, "
                    "prev_hash = :prev WHERE id = :id"
                ),
                {
                    "action": source.action,
                    "actor": source.actor,
                    "hash": source.hash,
                    "prev": source.prev_hash,
                    "id": target,
                },
            )
    result = verify(runner)
    assert result.exit_code != 0 and f"event {a}" in result.output


def test_events_cut_off_the_end_are_caught_with_the_recorded_head(app, runner, trail):
    first = verify(runner)
    head = first.output.strip().split("head ")[1]
    raw(app, "DELETE FROM audit_event WHERE id = :id", id=trail["ids"][-1])
    assert verify(runner).exit_code == 0  # a shorter chain is still a valid chain…
    result = verify(runner, "--head", head)
    assert result.exit_code != 0 and "does not end at the recorded head" in result.output
    result = verify(runner, "--count", str(len(trail["ids"])))
    assert result.exit_code != 0 and "fewer than" in result.output


def test_events_show_on_the_assessment_page(client, app, trail):
    from tests.test_web_assessments import sign_in

    sign_in(client, "viewer")
    html = client.get(f"/assessments/{trail['assessment_id']}/review").get_data(as_text=True)
    assert 'id="events"' in html
    assert "assessment approved" in html and "reviewer@example.com" in html
