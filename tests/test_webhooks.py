"""Webhooks: outbox in the same transaction, signed deliveries, retries, exclusive claims."""

import json
import threading
from datetime import timedelta

import pytest
from flask import current_app
from sqlmodel import select

from audit.extensions import db
from audit.models import User, WebhookDelivery, utcnow
from audit.services import ServiceError, webhooks
from audit.services import assessments as svc
from audit.services import findings as finding_svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import csrf_token
from tests.test_web_assessments import sign_in, world  # noqa: F401 - fixture
from tests.webhook_listeners import Answering

SECRET = "a-shared-secret-of-32-characters"


#: A real HTTP listener on 127.0.0.1 that records what it receives (``received``).
Receiver = Answering


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def people(session, loaded_checklists):
    return factories.team(session)


def ready_assessment(session, people):
    import uuid

    company = factories.subcontractor(session, people.admin, f"Co {uuid.uuid4().hex[:8]}")
    assessment = factories.assessment(session, people, company=company)
    checklist = svc.definition(session, assessment)
    overrides = {"SO-3.1": ("non_compliant", "No contract")}
    svc.save_answers(
        session,
        people.auditor,
        assessment,
        [AnswerInput(i.ref, *overrides.get(i.ref, ("compliant", ""))) for i in checklist.items()],
        None,
    )
    session.commit()
    return assessment


def settings() -> webhooks.Settings:
    """The webhook settings of the app in context (tests/conftest.py allows 127.0.0.1)."""
    return webhooks.Settings.from_config(current_app.config)


def register(session, people, url, events=("assessment.submitted", "assessment.approved")):
    hook = webhooks.register(
        session, people.admin, url=url, secret=SECRET, events=events, settings=settings()
    )
    session.commit()
    return hook


def run_once(session, worker="w1", batch=10):
    """One worker pass with the app's webhook settings."""
    return webhooks.run_once(session, worker, batch, settings())


def deliveries(session):
    session.expire_all()
    return session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def test_submission_writes_a_delivery_in_the_same_transaction(session, people, receiver):
    register(session, people, receiver.url)
    assessment = ready_assessment(session, people)
    svc.submit(session, people.auditor, assessment, None)
    session.rollback()  # the change is abandoned, and so is its delivery
    assert deliveries(session) == []
    svc.submit(session, people.auditor, svc.get(session, assessment.id), None)
    session.commit()
    [delivery] = deliveries(session)
    assert delivery.event == "assessment.submitted" and delivery.state == "pending"
    assert delivery.payload["data"]["assessment"]["rating"] == "D"


def test_delivery_is_signed_and_received(session, people, receiver):
    register(session, people, receiver.url)
    assessment = ready_assessment(session, people)
    svc.submit(session, people.auditor, assessment, None)
    session.commit()
    assert run_once(session, "w1") == 1
    [got] = receiver.received
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert webhooks.verify_signature(SECRET, got["body"], headers["x-kansa-signature"])
    assert not webhooks.verify_signature(
        "another-secret-0000", got["body"], headers["x-kansa-signature"]
    )
    assert not webhooks.verify_signature(SECRET, got["body"] + b" ", headers["x-kansa-signature"])
    body = json.loads(got["body"])
    [delivery] = deliveries(session)
    assert headers["x-kansa-delivery"] == delivery.delivery_id == body["id"]
    assert headers["x-kansa-event"] == "assessment.submitted" == body["event"]
    assert body["data"]["assessment"]["id"] == assessment.id
    assert delivery.state == "delivered" and delivery.attempts == 1
    assert run_once(session, "w1") == 0  # nothing is sent twice


def test_only_subscribed_events_and_active_hooks_get_deliveries(session, people, receiver):
    register(session, people, receiver.url, events=["assessment.approved"])
    paused = register(session, people, receiver.url + "/paused", events=["assessment.submitted"])
    webhooks.set_active(session, people.admin, paused.id, False)
    session.commit()
    assessment = ready_assessment(session, people)
    svc.submit(session, people.auditor, assessment, None)
    session.commit()
    assert deliveries(session) == []
    svc.approve(session, people.reviewer, assessment, None)
    session.commit()
    assert [d.event for d in deliveries(session)] == ["assessment.approved"]


def test_finding_update_is_delivered(session, people, receiver):
    register(session, people, receiver.url, events=["finding.updated"])
    assessment = ready_assessment(session, people)
    from audit.models import Finding

    finding = session.exec(select(Finding).where(Finding.assessment_id == assessment.id)).one()
    finding_svc.update(
        session,
        people.auditor,
        finding,
        remediation_plan="Sign the DPA",
        owner="Legal",
        due_date=None,
        status="in_remediation",
    )
    session.commit()
    run_once(session, "w1")
    body = json.loads(receiver.received[0]["body"])
    assert body["event"] == "finding.updated"
    assert body["data"]["finding"]["changed"]["status"] == "in_remediation"


def test_failures_are_retried_with_backoff_then_marked_failed(session, people):
    failing = Receiver(status=500)
    try:
        register(session, people, failing.url)
        assessment = ready_assessment(session, people)
        svc.submit(session, people.auditor, assessment, None)
        session.commit()
        run_once(session, "w1")
        [delivery] = deliveries(session)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        assert delivery.next_attempt_at > utcnow() + timedelta(seconds=20)
        assert run_once(session, "w1") == 0  # not due yet
        for _ in range(webhooks.MAX_ATTEMPTS - 1):
            delivery = deliveries(session)[0]
            delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
            session.add(delivery)
            session.commit()
            run_once(session, "w1")
        [delivery] = deliveries(session)
        assert delivery.state == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS
        assert len(failing.received) == webhooks.MAX_ATTEMPTS
        assert {r["headers"]["X-Kansa-Delivery"] for r in failing.received} == {
            delivery.delivery_id
        }
        webhooks.retry(session, people.admin, delivery.id)
        session.commit()
        failing.status = 200
        run_once(session, "w1")
        assert deliveries(session)[0].state == "delivered"
    finally:
        failing.close()


def test_unreachable_receiver_is_recorded(session, people):
    register(session, people, "http://127.0.0.1:9/nothing-listens-here")
    assessment = ready_assessment(session, people)
    svc.submit(session, people.auditor, assessment, None)
    session.commit()
    run_once(session, "w1")
    [delivery] = deliveries(session)
    assert delivery.state == "pending" and delivery.last_status is None
    assert delivery.last_error


def test_backoff_doubles_up_to_a_ceiling():
    assert [webhooks.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert webhooks.backoff(40).total_seconds() == webhooks.MAX_DELAY


def test_a_claimed_row_is_not_claimed_by_another_worker(app, session, people, receiver):
    register(session, people, receiver.url)
    for _ in range(3):
        assessment = ready_assessment(session, people)
        svc.submit(session, people.auditor, assessment, None)
        session.commit()
    first = webhooks.claim(session, "worker-a", batch=2)
    # another worker in its own connection sees only what is left
    from sqlmodel import Session

    with Session(db.engine_for(app)) as other:
        second = webhooks.claim(other, "worker-b", batch=10)
        third = webhooks.claim(other, "worker-c", batch=10)
    assert len(first) == 2 and len(second) == 1 and third == []
    assert not set(first) & set(second)
    # worker-b cannot send worker-a's rows
    delivered = webhooks.deliver(session, first[0], "worker-b")
    assert delivered.state == "pending" and receiver.received == []
    # once a lease runs out, another worker may take the row over
    row = session.get(WebhookDelivery, first[0])
    row.locked_until = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with Session(db.engine_for(app)) as other:
        assert webhooks.claim(other, "worker-b", batch=10) == [first[0]]


def test_concurrent_workers_never_send_a_delivery_twice(app, session, people, receiver):
    register(session, people, receiver.url)
    team = people
    for _ in range(6):
        assessment = ready_assessment(session, team)
        svc.submit(session, team.auditor, assessment, None)
        session.commit()
    from sqlmodel import Session

    def work(name):
        with app.app_context(), Session(db.engine_for(app)) as mine:
            while run_once(mine, name, batch=2) > 0:
                continue

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [r["headers"]["X-Kansa-Delivery"] for r in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert {d.state for d in deliveries(session)} == {"delivered"}


def test_registration_is_validated(session, people):
    with pytest.raises(ServiceError, match="absolute http"):
        webhooks.register(session, people.admin, url="ftp://x", secret=SECRET, events=["x"])
    with pytest.raises(ServiceError, match="16 to 200"):
        webhooks.register(
            session,
            people.admin,
            url="https://x.example",
            secret="short",
            events=["assessment.approved"],
        )
    with pytest.raises(ServiceError, match="unknown event"):
        webhooks.register(
            session,
            people.admin,
            url="https://x.example",
            secret=SECRET,
            events=["assessment.deleted"],
        )
    from audit.services import Forbidden

    with pytest.raises(Forbidden):
        webhooks.register(
            session,
            people.auditor,
            url="https://x.example",
            secret=SECRET,
            events=["assessment.approved"],
        )


def test_admin_page_registers_and_shows_outcomes(client, app, world, receiver):  # noqa: F811
    # no `session` fixture here: an app context held open across client requests would share
    # `g` between requests and hide the CSRF token from the session
    sign_in(client, "admin")
    token = csrf_token(client, "/admin/webhooks/")
    bad = client.post(
        "/admin/webhooks/",
        data={
            "csrf_token": token,
            "url": receiver.url,
            "secret": "short",
            "events": ["assessment.approved"],
        },
    )
    assert bad.status_code == 422 and "16 to 200" in bad.get_data(as_text=True)
    ok = client.post(
        "/admin/webhooks/",
        data={
            "csrf_token": token,
            "url": receiver.url,
            "secret": SECRET,
            "events": ["assessment.submitted"],
        },
    )
    assert ok.status_code == 302
    with app.app_context():
        session = db.session
        assessment = svc.get(session, world["assessment_id"])
        auditor = session.get(User, world["auditor"])
        checklist = svc.definition(session, assessment)
        svc.save_answers(
            session,
            auditor,
            assessment,
            [AnswerInput(i.ref, "compliant") for i in checklist.items()],
            None,
        )
        svc.submit(session, auditor, assessment, None)
        session.commit()
        run_once(session, "w1")
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert "delivered" in page and "assessment.submitted" in page
    sign_in(client, "auditor")
    assert client.get("/admin/webhooks/").status_code == 403


def test_worker_command_sends_once(runner, session, people, receiver):
    register(session, people, receiver.url)
    assessment = ready_assessment(session, people)
    svc.submit(session, people.auditor, assessment, None)
    session.commit()
    result = runner.invoke(args=["webhooks", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 deliveries attempted" in result.output
    assert len(receiver.received) == 1
