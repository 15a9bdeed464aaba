"""Admin pages of webhooks: edit, pause with held deliveries shown, rotate, delete (confirmed)."""

from __future__ import annotations

import re

from sqlmodel import select

from audit.extensions import db
from audit.models import User, Webhook, WebhookDelivery
from audit.services import webhooks
from tests.test_web_assessments import page_token, sign_in, world  # noqa: F401 - fixture
from tests.test_webhooks import SECRET

URL = "https://93.184.216.34/hook"


def make_hook(app, world, count=0):  # noqa: F811
    with app.app_context():
        admin = db.session.get(User, world["admin"])
        hook = webhooks.register(
            db.session, admin, url=URL, secret=SECRET, events=["assessment.submitted"]
        )
        db.session.commit()
        for n in range(count):
            webhooks.enqueue(db.session, "assessment.submitted", {"n": n})
        db.session.commit()
        return hook.id


def stored(app, hook_id):
    with app.app_context():
        return db.session.get(Webhook, hook_id)


def test_edit_page_saves_and_refuses_internal_urls(client, app, world):  # noqa: F811
    hook_id = make_hook(app, world)
    sign_in(client, "admin")
    token, html = page_token(client, f"/admin/webhooks/{hook_id}/")
    assert URL in html and 'name="revision" type="hidden" value="1"' in html
    refused = client.post(
        f"/admin/webhooks/{hook_id}/",
        data={
            "csrf_token": token,
            "revision": "1",
            "url": "http://169.254.169.254/latest",
            "events": ["assessment.submitted"],
        },
    )
    assert refused.status_code == 422
    assert "169.254.169.254 is a link-local address" in refused.get_data(as_text=True)
    saved = client.post(
        f"/admin/webhooks/{hook_id}/",
        data={
            "csrf_token": token,
            "revision": "1",
            "url": "https://93.184.216.35/new",
            "events": ["assessment.approved"],
            "description": "Ticketing",
        },
    )
    assert saved.status_code == 302
    hook = stored(app, hook_id)
    assert (hook.url, hook.events, hook.description, hook.revision) == (
        "https://93.184.216.35/new",
        ["assessment.approved"],
        "Ticketing",
        2,
    )
    stale = client.post(
        f"/admin/webhooks/{hook_id}/",
        data={"csrf_token": token, "revision": "1", "url": URL, "events": ["assessment.submitted"]},
    )
    page = stale.get_data(as_text=True)
    assert stale.status_code == 412 and "is out of date (yours is revision 1" in page
    assert 'name="revision" type="hidden" value="2"' in page and URL in page  # kept as typed
    assert stored(app, hook_id).url == "https://93.184.216.35/new"


def test_paused_webhook_shows_its_deliveries_held(client, app, world):  # noqa: F811
    hook_id = make_hook(app, world, count=2)
    sign_in(client, "admin")
    token, _ = page_token(client, "/admin/webhooks/")
    client.post(f"/admin/webhooks/{hook_id}/active", data={"csrf_token": token, "active": "0"})
    page = client.get("/admin/webhooks/").get_data(as_text=True)
    assert page.count(">held</span>") == 3  # the webhook's count, and each delivery
    assert "when its webhook is resumed" in page
    client.post(f"/admin/webhooks/{hook_id}/active", data={"csrf_token": token, "active": "1"})
    assert ">held</span>" not in client.get("/admin/webhooks/").get_data(as_text=True)


def test_rotation_page_shows_the_new_secret_once(client, app, world):  # noqa: F811
    hook_id = make_hook(app, world)
    sign_in(client, "admin")
    token, _ = page_token(client, f"/admin/webhooks/{hook_id}/")
    short = client.post(
        f"/admin/webhooks/{hook_id}/rotate",
        data={"csrf_token": token, "revision": "1", "secret": "short"},
    )
    assert short.status_code == 422 and "16 to 200" in short.get_data(as_text=True)
    rotated = client.post(
        f"/admin/webhooks/{hook_id}/rotate", data={"csrf_token": token, "revision": "1"}
    )
    assert rotated.status_code == 200
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', rotated.get_data(as_text=True))
    hook = stored(app, hook_id)
    assert secret and secret.group(1) == hook.secret and hook.previous_secret == SECRET
    assert hook.secret not in client.get(f"/admin/webhooks/{hook_id}/").get_data(as_text=True)


def test_delete_asks_first_then_cancels(client, app, world):  # noqa: F811
    hook_id = make_hook(app, world, count=2)
    sign_in(client, "admin")
    token, page = page_token(client, f"/admin/webhooks/{hook_id}/delete")
    assert (
        "2 undelivered deliveries are cancelled" in page and stored(app, hook_id).deleted_at is None
    )
    stale = client.post(
        f"/admin/webhooks/{hook_id}/delete", data={"csrf_token": token, "revision": "7"}
    )
    assert stale.status_code == 412 and stored(app, hook_id).deleted_at is None
    done = client.post(
        f"/admin/webhooks/{hook_id}/delete", data={"csrf_token": token, "revision": "1"}
    )
    assert done.status_code == 302
    assert "2 undelivered deliveries were cancelled" in client.get("/admin/webhooks/").get_data(
        as_text=True
    )
    assert client.get(f"/admin/webhooks/{hook_id}/").status_code == 404
    with app.app_context():
        states = {d.state for d in db.session.exec(select(WebhookDelivery)).all()}
    assert states == {"cancelled"}
