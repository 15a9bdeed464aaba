"""Webhooks against hostile or broken receivers, with real listeners on 127.0.0.1 (and .2).

Internal addresses are refused at registration, on change and again at every delivery after
resolving the name, and the request goes to exactly the address that was checked. A receiver
that never answers, answers too slowly, answers 500 or is down costs one request its timeouts,
and never delays the deliveries to other receivers. Pausing holds what is queued, resuming
releases it, deleting cancels it. A rotated secret keeps signing for its grace period.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app
from sqlmodel import select

from audit import config as settings_module
from audit.models import AuditEvent, Webhook, WebhookDelivery, utcnow
from audit.services import Conflict, ServiceError, outbound, webhooks
from tests import factories
from tests.webhook_listeners import (
    Answering,
    Counting,
    Silent,
    Timeline,
    Tls,
    Trickle,
    certificate_authority,
    closed_port,
)

SECRET = "a-shared-secret-of-32-characters"
EVENT = "assessment.submitted"


@pytest.fixture
def people(session, loaded_checklists):
    return factories.team(session)


@pytest.fixture
def quick(app):
    """Short timeouts, so that a receiver that never answers costs a second, not ten."""
    app.config.update(WEBHOOK_CONNECT_TIMEOUT=1.0, WEBHOOK_READ_TIMEOUT=1.0, WEBHOOK_DEADLINE=3.0)
    return app


@pytest.fixture
def listeners():
    made = []

    def make(listener):
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()


def settings() -> webhooks.Settings:
    return webhooks.Settings.from_config(current_app.config)


def register(session, people, url, events=(EVENT,)):
    hook = webhooks.register(
        session, people.admin, url=url, secret=SECRET, events=events, settings=settings()
    )
    session.commit()
    return hook


def queue(session, count=1, event=EVENT):
    """``count`` events into the outbox, each a delivery for every hook that wants it."""
    for n in range(count):
        webhooks.enqueue(session, event, {"n": n})
    session.commit()


def rows(session, hook=None):
    session.expire_all()
    statement = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if hook is not None:
        statement = statement.where(WebhookDelivery.webhook_id == hook.id)
    return session.exec(statement).all()


def point_at(session, hook, url):
    """Change the stored URL behind the service's back (as a row edited in the database, or a
    webhook registered before the checks existed would be)."""
    session.execute(sa.update(Webhook).where(Webhook.id == hook.id).values(url=url))
    session.commit()


def run_once(session, batch=20):
    return webhooks.run_once(session, "w1", batch, settings())


def problems_of(excinfo) -> str:
    return " ".join(p.message for p in excinfo.value.problems)


# ------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    "url,kind",
    [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("https://127.0.0.2:8443/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://224.0.0.251/hook", "multicast"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://100.64.0.1/hook", "not publicly routable"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://[fd00::1]/hook", "private"),
        ("https://[::ffff:127.0.0.2]/hook", "carrying 127.0.0.2, a loopback"),
        ("https://[::ffff:169.254.169.254]/hook", "carrying 169.254.169.254, a link-local"),
        ("https://[2002:a9fe:a9fe::1]/hook", "carrying 169.254.169.254"),
        ("https://[64:ff9b::a00:1]/hook", "carrying 10.0.0.1"),
        ("https://2130706434/hook", "loopback"),  # 127.0.0.2 written as one number
    ],
)
def test_internal_addresses_are_refused_at_registration(session, people, url, kind):
    with pytest.raises(ServiceError) as refused:
        register(session, people, url)
    assert refused.value.status == 422 and refused.value.field == "url"
    assert kind in problems_of(refused) and "KANSA_WEBHOOK_ALLOW_PRIVATE" in problems_of(refused)
    assert session.exec(select(Webhook)).all() == []


def test_public_https_is_accepted_and_plain_http_is_not(session, people):
    assert register(session, people, "https://93.184.216.34/hook").id
    with pytest.raises(ServiceError, match="must use https://"):
        register(session, people, "http://93.184.216.34/hook")
    with pytest.raises(ServiceError, match="must use https://"):
        register(session, people, "http://receiver.example/hook")  # does not resolve
    # a name that does not resolve (yet) is accepted over https: deliveries check it again
    assert register(session, people, "https://receiver.example/hook").id


def test_development_accepts_plain_http_to_public_addresses_only(app, session, people):
    app.config["KANSA_ENV"] = "development"
    assert register(session, people, "http://93.184.216.34/hook").id
    with pytest.raises(ServiceError, match="loopback"):
        register(session, people, "http://127.0.0.2/hook")


def test_the_allow_list_opens_exactly_its_networks(app, session, people):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = ("10.20.0.0/16",)
    assert register(session, people, "http://10.20.3.4/hook").id  # http too: an allowed address
    with pytest.raises(ServiceError, match="private"):
        register(session, people, "https://10.21.0.1/hook")
    with pytest.raises(ServiceError, match="loopback"):
        register(session, people, "http://127.0.0.1:9/hook")  # the test default no longer


def test_the_allow_list_setting_is_validated():
    parsed = settings_module.from_environment(
        "/tmp", {"KANSA_WEBHOOK_ALLOW_PRIVATE": " 10.0.0.0/8, 127.0.0.1 ,fd00::/8"}
    )
    assert parsed["WEBHOOK_ALLOW_PRIVATE"] == ("10.0.0.0/8", "127.0.0.1/32", "fd00::/8")
    assert settings_module.from_environment("/tmp", {})["WEBHOOK_ALLOW_PRIVATE"] == ()
    with pytest.raises(settings_module.ConfigError, match="'10.0.0.5/8'.*'nonsense'"):
        settings_module.from_environment(
            "/tmp", {"KANSA_WEBHOOK_ALLOW_PRIVATE": "10.0.0.5/8,nonsense"}
        )
    with pytest.raises(settings_module.ConfigError, match="KANSA_WEBHOOK_DEADLINE"):
        settings_module.from_environment("/tmp", {"KANSA_WEBHOOK_DEADLINE": "0"})
    with pytest.raises(settings_module.ConfigError, match="KANSA_WEBHOOK_ALLOW_PRIVATE"):
        settings_module.check(
            settings_module.from_environment("/tmp", {})
            | {"SECRET_KEY": "k", "WEBHOOK_ALLOW_PRIVATE": ["300.1.1.1"]},
            False,
        )


def test_a_private_receiver_is_refused_at_registration_and_never_reached(
    session, people, listeners
):
    private = listeners(Counting("127.0.0.2"))
    with pytest.raises(ServiceError, match="127.0.0.2 is a loopback address"):
        register(session, people, private.url)
    good = listeners(Answering())
    hook = register(session, people, good.url)
    with pytest.raises(ServiceError, match="127.0.0.2 is a loopback address"):
        webhooks.update(session, people.admin, hook.id, None, url=private.url, settings=settings())
    session.rollback()
    queue(session)
    point_at(session, hook, private.url)  # past the registration check, as if edited in the DB
    assert run_once(session) == 1
    [delivery] = rows(session)
    assert delivery.state == "pending" and delivery.attempts == 1 and delivery.last_status is None
    assert delivery.last_error.startswith("refused, nothing was sent: 127.0.0.2 is a loopback")
    assert private.accepted == 0 and good.received == []


def test_a_name_is_checked_after_resolution_at_every_delivery(app, session, people, listeners):
    good = listeners(Answering())
    hook = register(session, people, good.url)
    queue(session)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = ()  # 127.0.0.1 is no longer allowed
    localhost = f"http://localhost:{good.port}/hook"
    with pytest.raises(
        ServiceError, match="localhost resolves to 127.0.0.1, which is a loopback address"
    ):
        register(session, people, localhost)
    point_at(session, hook, localhost)
    run_once(session)
    [delivery] = rows(session)
    assert delivery.last_error == (
        "refused, nothing was sent: localhost resolves to 127.0.0.1, which is a loopback "
        "address, and KANSA_WEBHOOK_ALLOW_PRIVATE does not list it"
    )
    assert good.received == []


def test_a_rebinding_name_cannot_move_the_request(session, people, listeners, monkeypatch):
    """DNS rebinding: a name whose answer changes. Only the resolution is faked; both
    listeners are real, on the same port of 127.0.0.1 (allowed) and 127.0.0.2 (not)."""
    good = listeners(Answering())
    private = listeners(Counting("127.0.0.2", good.port))
    real = socket.getaddrinfo
    answers: list[str] = []  # the next answers of rebind.test; once used up, 127.0.0.2

    def rebinding(host, port, *args, **kwargs):
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        address = answers.pop(0) if answers else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.test:{good.port}/hook"
    answers.append("127.0.0.1")
    register(session, people, url)  # checked: 127.0.0.1, allowed
    queue(session)
    # the name has moved since: the delivery resolves it again, checks, refuses
    run_once(session)
    [delivery] = rows(session)
    assert delivery.last_error.startswith(
        "refused, nothing was sent: rebind.test resolves to 127.0.0.2, which is a loopback"
    )
    # the name answers an allowed address to the check and a private one right after: the
    # request goes to the address checked, under the name (Host header)
    webhooks.retry(session, people.admin, delivery.id)
    session.commit()
    answers.append("127.0.0.1")
    run_once(session)
    [delivery] = rows(session)
    assert private.accepted == 0
    assert delivery.state == "delivered", delivery.last_error
    [got] = good.received
    assert got["headers"]["Host"] == f"rebind.test:{good.port}"


def test_https_goes_to_the_checked_address_with_the_name_for_sni_and_certificate(
    session, people, listeners, monkeypatch, tmp_path
):
    """TLS to a pinned address: SNI and the certificate check use the URL's name, so a
    certificate for the name verifies, and the same receiver reached by its address does not."""
    pytest.importorskip("cryptography")
    ca, cert, key = certificate_authority(tmp_path, "rebind.test")
    receiver = listeners(Tls(cert, key))
    monkeypatch.setenv("SSL_CERT_FILE", ca)  # trust the test CA (read by each new context)
    real = socket.getaddrinfo

    def resolving(host, port, *args, **kwargs):
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)
    by_name = register(session, people, f"https://rebind.test:{receiver.port}/hook")
    queue(session)
    run_once(session)
    [delivery] = rows(session, by_name)
    assert delivery.state == "delivered", delivery.last_error
    assert receiver.server_names == ["rebind.test"]
    assert receiver.received[0]["headers"]["Host"] == f"rebind.test:{receiver.port}"

    webhooks.delete(session, people.admin, by_name.id, None)
    by_address = register(session, people, f"https://127.0.0.1:{receiver.port}/hook")
    queue(session)
    run_once(session)
    [delivery] = rows(session, by_address)
    assert delivery.state == "pending" and "TLS failed" in delivery.last_error
    assert "certificate" in delivery.last_error.lower() and len(receiver.received) == 1


def test_redirects_are_not_followed(session, people, listeners):
    target = listeners(Answering(name="target"))
    redirecting = listeners(Answering(status=307, headers={"Location": target.url}))
    register(session, people, redirecting.url)
    queue(session)
    run_once(session)
    [delivery] = rows(session)
    assert delivery.state == "pending" and delivery.last_status == 307
    assert "redirect" in delivery.last_error and "not followed" in delivery.last_error
    assert len(redirecting.received) == 1 and target.received == []


# ------------------------------------------------------------------------------ slow receivers


def test_broken_receivers_each_cost_their_own_attempt(quick, session, people, listeners):
    """One batch: a good receiver, one answering 500, one down, one that never answers and
    one at a private address. Each outcome is recorded; only the good one is delivered."""
    timeline = Timeline()
    good = listeners(Answering(timeline))
    failing = listeners(Answering(timeline, name="failing", status=500))
    silent = listeners(Silent(timeline))
    private = listeners(Counting("127.0.0.2"))
    hooks = {
        "good": register(session, people, good.url),
        "failing": register(session, people, failing.url),
        "down": register(session, people, f"http://127.0.0.1:{closed_port()}/hook"),
        "silent": register(session, people, silent.url),
        "private": register(session, people, good.url + "/private"),
    }
    queue(session)
    point_at(session, hooks["private"], private.url)
    assert run_once(session) == 5
    outcome = {name: rows(session, hook)[0] for name, hook in hooks.items()}
    assert outcome["good"].state == "delivered"
    assert (outcome["failing"].last_status, outcome["failing"].last_error) == (500, "HTTP 500")
    assert "could not connect" in outcome["down"].last_error
    assert "refused" in outcome["down"].last_error.lower()
    assert outcome["silent"].last_error == (
        "no answer within the 1 s read timeout; connection closed"
    )
    assert outcome["private"].last_error.startswith("refused, nothing was sent")
    for name in ("failing", "down", "silent", "private"):
        assert outcome[name].state == "pending" and outcome[name].attempts == 1, name
        assert outcome[name].next_attempt_at > utcnow() + timedelta(seconds=20), name
    assert "silent let go 1" in timeline and private.accepted == 0


def test_a_slow_answer_is_cut_at_the_deadline(quick, session, people, listeners):
    """Each byte arrives well within the read timeout; the total deadline still ends it."""
    timeline = Timeline()
    trickle = listeners(Trickle(timeline))
    register(session, people, trickle.url)
    queue(session)
    run_once(session)
    [delivery] = rows(session)
    assert delivery.state == "pending"
    assert delivery.last_error == ("no answer within the 3 s deadline; the connection was closed")
    assert timeline.wait_for("trickle cut off 1")
    assert "trickle finished 1" not in timeline


def test_a_silent_receiver_does_not_delay_the_others(quick, session, people, listeners):
    """The silent receiver's deliveries come first in the batch; the good receiver still gets
    its own while the silent one holds its connections, at most two of them at once."""
    timeline = Timeline()
    silent = listeners(Silent(timeline))
    good = listeners(Answering(timeline))
    silent_hook = register(session, people, silent.url)
    queue(session, 3)  # three deliveries to the silent receiver only
    good_hook = register(session, people, good.url)
    queue(session, 1)  # one to each
    ids = [d.id for d in rows(session)]
    assert [d.webhook_id for d in rows(session)] == [silent_hook.id] * 4 + [good_hook.id]
    assert ids == sorted(ids)

    worker = threading.Thread(target=webhooks.run_once, args=(session, "w1", 20, settings()))
    worker.start()
    assert timeline.wait_for("good received")
    worker.join(60)
    assert not worker.is_alive()
    # sent one after the other, the good delivery would wait for the silent ones to time out
    assert timeline.index("good received") < timeline.index("silent let go 1")
    assert silent.accepted == 4 and silent.most_open == 2  # KANSA_WEBHOOK_PER_DESTINATION
    states = {d.webhook_id: set() for d in rows(session)}
    for d in rows(session):
        states[d.webhook_id].add(d.state)
    assert states == {silent_hook.id: {"pending"}, good_hook.id: {"delivered"}}


def test_the_lease_outlasts_the_deadline_and_is_renewed_at_send_time(quick, session, people):
    assert settings().lease > timedelta(seconds=settings().timeouts.deadline)
    assert webhooks.Settings().lease == webhooks.LEASE > timedelta(seconds=15)
    hook = register(session, people, "https://93.184.216.34/hook")
    queue(session)
    [claimed] = webhooks.claim(session, "w1", lease=timedelta(seconds=-1))  # already run out
    delivered = webhooks.deliver(session, claimed, "w1", settings())
    assert delivered.attempts == 0 and delivered.locked_by == "w1"  # not sent: not ours now
    assert rows(session, hook)[0].attempts == 0


# ------------------------------------------------------------------------------ pause, delete


def test_pausing_holds_what_is_queued_and_resuming_releases_it(session, people, listeners):
    good = listeners(Answering())
    hook = register(session, people, good.url)
    queue(session, 3)
    delayed = rows(session)[0]
    delayed.next_attempt_at = utcnow() + timedelta(hours=2)  # as after a few failures
    session.add(delayed)
    session.commit()
    webhooks.set_active(session, people.admin, hook.id, False)
    session.commit()
    assert run_once(session) == 0 and good.received == []
    assert {d.state for d in rows(session)} == {"pending"}
    held = session.exec(webhooks.deliveries(hook.id, held=True)).all()
    assert len(held) == 3
    assert webhooks.next_due(session) is None  # nothing for a worker to wait for

    webhooks.set_active(session, people.admin, hook.id, True)
    session.commit()
    assert all(d.next_attempt_at <= utcnow() for d in rows(session))  # due now, the delayed too
    assert run_once(session) == 3
    assert {d.state for d in rows(session)} == {"delivered"} and len(good.received) == 3
    changes = session.exec(select(AuditEvent).where(AuditEvent.action == "webhook.changed")).all()
    assert [e.after for e in changes] == [
        {"active": False, "held_deliveries": 3},
        {"active": True, "released_deliveries": 3},
    ]


def test_a_delivery_paused_after_its_claim_is_not_sent(session, people, listeners):
    good = listeners(Answering())
    hook = register(session, people, good.url)
    queue(session)
    [claimed] = webhooks.claim(session, "w1")
    webhooks.set_active(session, people.admin, hook.id, False)
    session.commit()
    delivery = webhooks.deliver(session, claimed, "w1", settings())
    assert delivery.state == "pending" and delivery.locked_by is None and good.received == []


def test_deleting_cancels_what_is_undelivered(session, people, listeners):
    good = listeners(Answering())
    hook = register(session, people, good.url)
    queue(session)
    run_once(session)
    queue(session, 2)
    cancelled = webhooks.delete(session, people.admin, hook.id, hook.revision)
    session.commit()
    assert cancelled == 2
    assert [d.state for d in rows(session)] == ["delivered", "cancelled", "cancelled"]
    assert rows(session)[1].last_error == webhooks.CANCELLED_NOTE
    assert run_once(session) == 0 and len(good.received) == 1
    queue(session)  # new events find no webhook
    assert len(rows(session)) == 3
    assert webhooks.all_webhooks(session) == []
    with pytest.raises(Conflict, match="cancelled"):
        webhooks.retry(session, people.admin, rows(session)[1].id)
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "webhook.deleted")).all()
    assert event.after == {"cancelled_deliveries": 2}
    assert event.before["url"] == good.url


# ------------------------------------------------------------------------------ rotation


def signature_of(receiver, n=-1):
    headers = {k.lower(): v for k, v in receiver.received[n]["headers"].items()}
    return receiver.received[n]["body"], headers["x-kansa-signature"]


def test_a_rotated_secret_signs_beside_the_old_one_for_the_grace_period(session, people, listeners):
    good = listeners(Answering())
    hook = register(session, people, good.url)
    hook, new = webhooks.rotate_secret(session, people.admin, hook.id, 1, settings=settings())
    session.commit()
    assert len(new) >= 32 and new != SECRET and hook.revision == 2
    assert hook.previous_secret_expires_at > utcnow() + timedelta(hours=23)
    queue(session)
    run_once(session)
    body, header = signature_of(good)
    assert header.count("v1=") == 2
    assert webhooks.verify_signature(new, body, header)
    assert webhooks.verify_signature(SECRET, body, header)  # a receiver not yet switched
    assert not webhooks.verify_signature("another-secret-of-some-length", body, header)

    hook.previous_secret_expires_at = utcnow() - timedelta(seconds=1)  # the grace is over
    session.add(hook)
    session.commit()
    queue(session)
    run_once(session)
    body, header = signature_of(good)
    assert header.count("v1=") == 1
    assert webhooks.verify_signature(new, body, header)
    assert not webhooks.verify_signature(SECRET, body, header)
    [event] = session.exec(
        select(AuditEvent).where(AuditEvent.action == "webhook.secret_rotated")
    ).all()
    assert SECRET not in json.dumps(event.after) and new not in json.dumps(event.after)


def test_without_grace_only_the_new_secret_signs(app, session, people, listeners):
    app.config["WEBHOOK_SECRET_GRACE_HOURS"] = 0
    good = listeners(Answering())
    hook = register(session, people, good.url)
    chosen = "a-new-secret-chosen-by-the-admin"
    _, new = webhooks.rotate_secret(
        session, people.admin, hook.id, None, secret=chosen, settings=settings()
    )
    session.commit()
    assert new == chosen
    queue(session)
    run_once(session)
    body, header = signature_of(good)
    assert webhooks.verify_signature(chosen, body, header)
    assert not webhooks.verify_signature(SECRET, body, header)


def test_rotation_and_edits_are_refused_when_stale_or_wrong(session, people):
    hook = register(session, people, "https://93.184.216.34/hook")
    with pytest.raises(ServiceError, match="16 to 200"):
        webhooks.rotate_secret(session, people.admin, hook.id, 1, secret="short")
    with pytest.raises(ServiceError, match="differ"):
        webhooks.rotate_secret(session, people.admin, hook.id, 1, secret=SECRET)
    webhooks.update(session, people.admin, hook.id, 1, description="first")
    session.commit()
    from audit.services import StaleRevision

    with pytest.raises(StaleRevision):
        webhooks.update(session, people.admin, hook.id, 1, description="second")
    with pytest.raises(StaleRevision):
        webhooks.delete(session, people.admin, hook.id, 1)
    session.rollback()
    assert session.get(Webhook, hook.id).description == "first"


def test_verify_signature_reads_every_v1_and_refuses_malformed_headers():
    body = b'{"x":1}'
    header = webhooks.sign("new-secret-0000000", body, 1000, "old-secret-0000000")
    assert header.startswith("t=1000,v1=") and header.count(",v1=") == 2
    for key in ("new-secret-0000000", "old-secret-0000000"):
        assert webhooks.verify_signature(key, body, header, now=1000)
    assert not webhooks.verify_signature("new-secret-0000000", body, header, now=2000)
    for bad in ("", "t=1000", "v1=abc", "t=x,v1=abc", "garbage", "t=1000,v1"):
        assert not webhooks.verify_signature("new-secret-0000000", body, bad, now=1000)


def test_the_address_policy_on_its_own():
    policy = outbound.AddressPolicy.of(["127.0.0.1/32"])
    assert outbound.refusal(outbound.literal("127.0.0.1"), policy) is None
    assert outbound.refusal(outbound.literal("::ffff:127.0.0.1"), policy) is None
    assert "loopback" in outbound.refusal(outbound.literal("127.0.0.2"), policy)
    assert outbound.refusal(outbound.literal("93.184.216.34"), policy) is None
    assert outbound.refusal(outbound.literal("2606:2800:220:1::1"), policy) is None
    teredo = outbound.literal("2001:0:4136:e378:8000:63bf:3fff:fdd2")  # client 192.0.2.45
    assert "carrying 192.0.2.45, a private address" in outbound.refusal(teredo, policy)
