"""The audit trail over the API, checked as an outside consumer would: from the API's output
alone, recomputing each hash by the rule the OpenAPI document states (not with the service)."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from audit.extensions import db
from audit.models import AuditEvent
from tests.api.conftest import error_of, first_items, pagination

GENESIS = "0" * 64


def recomputed(event: dict) -> str:
    """The hash of an event as the API describes it, from the API's fields only."""
    body = {
        "prev": event["prev_hash"],
        "at": event["occurred_at"],
        "actor_id": event["actor_id"],
        "actor": event["actor"],
        "action": event["action"],
        "object": [event["object_type"], event["object_id"]],
        "assessment_id": event["assessment_id"],
        "before": event["before"],
        "after": event["after"],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def whole_trail(api, limit: int) -> list[dict]:
    """Every event, following ``next`` from the start in batches of ``limit``."""
    seen: list[dict] = []
    cursor = 0
    while True:
        response = api.get(f"/api/v1/events?after={cursor}&limit={limit}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body["events"]) <= limit
        assert f"after={body['next']}" in response.headers["Link"]
        assert 'rel="next"' in response.headers["Link"]
        seen += body["events"]
        if not body["more"]:
            return seen
        cursor = body["next"]


def verify_chain(events: list[dict]) -> None:
    previous = GENESIS
    for event in events:
        assert event["prev_hash"] == previous, f"event {event['id']}: broken link"
        assert recomputed(event) == event["hash"], f"event {event['id']}: hash mismatch"
        previous = event["hash"]


def do_some_work(app, as_user, world):
    auditor = as_user("auditor")
    aid = world["assessment_id"]
    refs = first_items(app, count=2)
    url = f"/api/v1/assessments/{aid}/answers"
    saved = auditor.patch(
        url,
        json={
            "answers": [
                {"ref": refs[0], "status": "non_compliant", "comment": "委託先の台帳がない"},
                {"ref": refs[1], "status": "compliant"},
            ]
        },
        etag=auditor.get(url).headers["ETag"],
    )
    assert saved.status_code == 200, saved.get_json()
    made = auditor.post(
        "/api/v1/subcontractors", json={"name": "株式会社ほし データ", "country": "JP", "tier": 2}
    )
    assert made.status_code == 201, made.get_json()


def test_the_whole_trail_verifies_from_the_api_alone(app, as_user, world):
    do_some_work(app, as_user, world)
    admin = as_user("admin", "admin")
    events = whole_trail(admin, limit=3)
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert len(events) == stored > 6
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert any("委託先" in json.dumps(e["after"], ensure_ascii=False) for e in events)
    verify_chain(events)
    # the same in one batch, and nothing after the end: the cursor stays for polling
    assert whole_trail(admin, limit=1000) == events
    tail = admin.get(f"/api/v1/events?after={events[-1]['id']}").get_json()
    assert tail == {"events": [], "next": events[-1]["id"], "more": False}


def test_an_edited_or_deleted_event_shows_in_the_recomputation(app, as_user, world):
    do_some_work(app, as_user, world)
    admin = as_user("admin", "admin")
    events = whole_trail(admin, limit=100)
    victim = events[len(events) // 2]
    with app.app_context():
        db.session.execute(
            sa.update(AuditEvent).where(AuditEvent.id == victim["id"]).values(actor="mallory")
        )
        db.session.commit()
    edited = whole_trail(admin, limit=100)
    bad = next(e for e in edited if e["id"] == victim["id"])
    assert recomputed(bad) != bad["hash"]
    with app.app_context():
        db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == victim["id"]))
        db.session.commit()
    after = whole_trail(admin, limit=100)
    at = next(i for i, e in enumerate(after) if e["id"] > victim["id"])
    assert after[at]["prev_hash"] != after[at - 1]["hash"]  # the gap breaks the link


def test_the_events_of_one_assessment(app, as_user, world):
    do_some_work(app, as_user, world)
    aid = world["assessment_id"]
    viewer = as_user("viewer", "read")
    response = viewer.get(f"/api/v1/assessments/{aid}/events?page_size=100")
    assert response.status_code == 200, response.get_json()
    events = response.get_json()
    assert pagination(response)["total"] == len(events) >= 3
    assert {e["assessment_id"] for e in events} == {aid}
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["action"] for e in events] == ["assessment.created", "answer.saved", "answer.saved"]
    for event in events:
        assert recomputed(event) == event["hash"]
    error_of(viewer.get("/api/v1/assessments/999999/events"), 404)


def test_only_admins_read_the_whole_trail(as_user, world):
    for who in ("auditor", "reviewer", "viewer"):
        error_of(as_user(who, "admin").get("/api/v1/events"), 403)
    error_of(as_user("admin", "admin").get("/api/v1/events?limit=0"), 422)
    error_of(as_user("admin", "admin").get("/api/v1/events?limit=1001"), 422)
    error_of(as_user("admin", "admin").get("/api/v1/events?after=-1"), 422)
