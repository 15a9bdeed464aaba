"""API: one webhook read, edited, paused, deleted and its secret rotated, under If-Match."""

from __future__ import annotations

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import AuditEvent, WebhookDelivery
from audit.services import webhooks
from tests.api.conftest import error_of
from tests.test_webhooks import SECRET
from tests.webhook_listeners import Answering, Counting

BODY = {"url": "https://93.184.216.34/hook", "secret": SECRET, "events": ["finding.updated"]}


@pytest.fixture
def admin(as_user):
    return as_user("admin", "admin")


@pytest.fixture
def made(admin):
    response = admin.post("/api/v1/webhooks", json=BODY)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response


def queue(app, count=1):
    with app.app_context():
        for n in range(count):
            webhooks.enqueue(db.session, "finding.updated", {"n": n})
        db.session.commit()


def actions(app):
    with app.app_context():
        return [e.action for e in db.session.exec(select(AuditEvent)).all()]


def test_creation_answers_location_and_etag(admin, made):
    hook = made.get_json()
    assert made.headers["Location"].endswith(f"/api/v1/webhooks/{hook['id']}")
    assert made.headers["ETag"] == f'"w{hook["id"]}-r1"' and hook["etag"] == f"w{hook['id']}-r1"
    one = admin.get(made.headers["Location"])
    assert one.status_code == 200 and one.headers["ETag"] == made.headers["ETag"]
    assert one.get_json()["url"] == BODY["url"] and "secret" not in one.get_json()
    assert (
        admin.get(
            made.headers["Location"], headers={"If-None-Match": one.headers["ETag"]}
        ).status_code
        == 304
    )
    error_of(admin.get("/api/v1/webhooks/999"), 404)


def test_every_write_needs_a_matching_if_match(admin, made):
    url = made.headers["Location"]
    etag = made.headers["ETag"]
    for method, path, body in [
        ("PATCH", url, {"description": "x"}),
        ("DELETE", url, None),
        ("POST", url + "/rotate-secret", None),
    ]:
        kwargs = {"json": body} if body is not None else {}
        error_of(admin.request(method, path, **kwargs), 428)
        for bad in ('""', '"", ""', "garbage", 'W/"' + etag.strip('"') + '"', '"a1-r1"', '"w1-r"'):
            body412 = error_of(admin.request(method, path, etag=bad, **kwargs), 412)
            assert "out of date" in body412["message"], body412
            assert "nothing was saved" in body412["message"], body412
    stale = admin.patch(url, json={"description": "first"}, etag=etag)
    assert stale.status_code == 200 and stale.headers["ETag"] != etag
    for method, path in [("PATCH", url), ("DELETE", url), ("POST", url + "/rotate-secret")]:
        kwargs = {"json": {"description": "second"}} if method == "PATCH" else {}
        error_of(admin.request(method, path, etag=etag, **kwargs), 412)
    assert admin.get(url).get_json()["description"] == "first"
    # a list naming the current ETag among others (an empty one too) is a match
    listed = admin.patch(url, json={"description": "third"}, etag=f'"", {stale.headers["ETag"]}')
    assert listed.status_code == 200, listed.get_data(as_text=True)
    assert admin.patch(url, json={"description": "any"}, etag="*").status_code == 200


def test_patch_edits_and_refuses_internal_urls(app, admin, made):
    url = made.headers["Location"]
    changed = admin.patch(
        url,
        json={
            "url": "https://93.184.216.35/other",
            "events": ["assessment.approved", "assessment.submitted"],
            "description": "Ticketing",
        },
        etag=made.headers["ETag"],
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    body = changed.get_json()
    assert (body["url"], body["events"], body["description"], body["revision"]) == (
        "https://93.184.216.35/other",
        ["assessment.approved", "assessment.submitted"],
        "Ticketing",
        2,
    )
    refused = error_of(
        admin.patch(
            url,
            json={"url": "http://169.254.169.254/latest", "events": []},
            etag=changed.headers["ETag"],
        ),
        422,
    )
    assert "link-local" in refused["errors"]["url"][0] and refused["errors"]["events"]
    assert admin.get(url).get_json()["url"] == "https://93.184.216.35/other"
    assert actions(app).count("webhook.changed") == 1


def test_registration_refuses_a_private_receiver_it_never_reaches(admin):
    private = Counting("127.0.0.2")
    try:
        refused = error_of(admin.post("/api/v1/webhooks", json={**BODY, "url": private.url}), 422)
        assert refused["errors"]["url"] == [
            "127.0.0.2 is a loopback address, and KANSA_WEBHOOK_ALLOW_PRIVATE does not list it"
        ]
        assert private.accepted == 0
    finally:
        private.close()


def test_pause_shows_held_deliveries_and_resume_releases_them(app, admin, made):
    url = made.headers["Location"]
    queue(app, 2)
    paused = admin.patch(url, json={"active": False}, etag=made.headers["ETag"])
    assert paused.status_code == 200 and paused.get_json()["active"] is False
    held = admin.get("/api/v1/webhooks/deliveries?held=true").get_json()
    assert len(held) == 2 and {d["state"] for d in held} == {"pending"}
    assert all(d["held"] for d in held)
    resumed = admin.patch(url, json={"active": True}, etag=paused.headers["ETag"])
    assert resumed.status_code == 200
    assert admin.get("/api/v1/webhooks/deliveries?held=true").get_json() == []
    assert [d["held"] for d in admin.get("/api/v1/webhooks/deliveries").get_json()] == [
        False,
        False,
    ]


def test_delete_cancels_and_hides_the_webhook(app, admin, made):
    url = made.headers["Location"]
    hook_id = made.get_json()["id"]
    queue(app, 2)
    deleted = admin.delete(url, etag=made.headers["ETag"])
    assert deleted.status_code == 204
    error_of(admin.get(url), 404)
    error_of(admin.delete(url, etag="*"), 404)
    assert admin.get("/api/v1/webhooks").get_json() == []
    listing = admin.get(f"/api/v1/webhooks/deliveries?webhook_id={hook_id}").get_json()
    assert [d["state"] for d in listing] == ["cancelled", "cancelled"]
    assert admin.get("/api/v1/webhooks/deliveries?state=cancelled").get_json() == listing
    error_of(admin.post(f"/api/v1/webhooks/deliveries/{listing[0]['id']}/retry"), 409)
    assert "webhook.deleted" in actions(app)


def test_rotation_returns_the_new_secret_once_and_both_sign_during_grace(app, admin, as_user):
    receiver = Answering()
    try:
        made = admin.post("/api/v1/webhooks", json={**BODY, "url": receiver.url})
        url = made.headers["Location"]
        rotated = admin.post(url + "/rotate-secret", etag=made.headers["ETag"])
        assert rotated.status_code == 200, rotated.get_data(as_text=True)
        body = rotated.get_json()
        new = body["secret"]
        assert len(new) >= 32 and new != SECRET and body["previous_secret_expires_at"]
        assert rotated.headers["ETag"] == f'"w{body["id"]}-r2"'
        assert "secret" not in admin.get(url).get_json()
        error_of(
            admin.post(
                url + "/rotate-secret", json={"secret": "short"}, etag=rotated.headers["ETag"]
            ),
            422,
        )
        chosen = admin.post(
            url + "/rotate-secret",
            json={"secret": "chosen-by-the-admin-0001"},
            etag=rotated.headers["ETag"],
        )
        assert chosen.get_json()["secret"] == "chosen-by-the-admin-0001"
        queue(app)
        from tests.test_webhooks import run_once

        with app.app_context():
            run_once(db.session)
            [delivery] = db.session.exec(select(WebhookDelivery)).all()
            assert delivery.state == "delivered"
        got = receiver.received[0]
        header = got["headers"]["X-Kansa-Signature"]
        # the secret replaced last (the generated one) still signs; the first is gone
        assert webhooks.verify_signature("chosen-by-the-admin-0001", got["body"], header)
        assert webhooks.verify_signature(new, got["body"], header)
        assert not webhooks.verify_signature(SECRET, got["body"], header)
        assert actions(app).count("webhook.secret_rotated") == 2
    finally:
        receiver.close()
