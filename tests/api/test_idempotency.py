"""Idempotency-Key on the API's POSTs: a retry gets the first answer, never a second row.

Issue 11, defect 6: the same key sent twice created two assessments.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from audit import create_app
from audit.extensions import db
from audit.models import Assessment, Evidence, IdempotencyKey, Subcontractor, Webhook, utcnow
from audit.services import idempotency as svc
from tests.api.conftest import ApiClient, error_of
from tests.conftest import app_config

KEY = "3f8c2a8e-5b1d-4c1e-9f00-idempotency"


def count(app, model) -> int:
    with app.app_context():
        return db.session.exec(select(func.count()).select_from(model)).one()


def assessment_body(world, **fields) -> dict:
    return {
        "subcontractor_id": world["subcontractor_id"],
        "checklist_version_id": world["version_id"],
        "auditor_ids": [world["auditor"]],
        "reviewer_id": world["reviewer"],
        "due_date": "2026-12-01",
        "title": "Annual 2026",
        **fields,
    }


def keyed(api, path: str, key: str = KEY, **kw):
    headers = {"Idempotency-Key": key, **kw.pop("headers", {})}
    return api.post(path, headers=headers, **kw)


def test_the_same_key_and_body_answers_the_first_response_again(app, as_user, world):
    api = as_user("auditor")
    before = count(app, Assessment)
    first = keyed(api, "/api/v1/assessments", json=assessment_body(world))
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    # the same JSON with its keys in another order is the same request
    again = keyed(api, "/api/v1/assessments", json=dict(reversed(assessment_body(world).items())))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.mimetype == "application/json"
    assert count(app, Assessment) == before + 1
    # without a key, every POST is a new request
    assert api.post("/api/v1/assessments", json=assessment_body(world)).status_code == 201
    assert count(app, Assessment) == before + 2


def send_file(api, aid: int, key: str, data: bytes = b"%PDF-1.4 policy"):
    return keyed(
        api,
        f"/api/v1/assessments/{aid}/evidence",
        key=key,
        data={"file": (io.BytesIO(data), "policy.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("resource", ["subcontractor", "evidence", "webhook"])
def test_every_create_honours_the_key(app, as_user, world, resource):
    if resource == "subcontractor":
        api, model = as_user("auditor"), Subcontractor

        def send():
            body = {"name": "Keyed Ltd", "country": "JP", "tier": 2}
            return keyed(api, "/api/v1/subcontractors", json=body)

    elif resource == "evidence":
        api, model = as_user("auditor"), Evidence

        def send():  # a new multipart boundary each time: the same fields and file count
            return send_file(api, world["assessment_id"], KEY)

    else:
        api, model = as_user("admin", "admin"), Webhook

        def send():
            body = {
                "url": "https://receiver.example/hook",
                "secret": "s" * 32,
                "events": ["assessment.approved"],
            }
            return keyed(api, "/api/v1/webhooks", json=body)

    before = count(app, model)
    first = send()
    assert first.status_code == 201, first.get_json()
    second = send()
    assert second.status_code == 201, second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    assert count(app, model) == before + 1
    if resource == "evidence":  # hashing the upload for the fingerprint left it whole
        assert first.get_json()["sha256"] == hashlib.sha256(b"%PDF-1.4 policy").hexdigest()


def test_the_same_key_with_another_request_is_422(app, as_user, world):
    api = as_user("auditor")
    assert keyed(api, "/api/v1/assessments", json=assessment_body(world)).status_code == 201
    before = count(app, Assessment)
    body = error_of(
        keyed(api, "/api/v1/assessments", json=assessment_body(world, title="Other")), 422
    )
    assert list(body["errors"]) == ["Idempotency-Key"]
    assert "different request" in body["message"]
    # another path with the same key is another request too
    body = {"name": "Keyed Ltd", "country": "JP", "tier": 2}
    error_of(keyed(api, "/api/v1/subcontractors", json=body), 422)
    # another file under the same key
    error_of(send_file(api, world["assessment_id"], KEY, b"another file"), 422)
    assert count(app, Assessment) == before
    assert count(app, Subcontractor) == 1  # the world's own


def test_a_key_still_in_flight_is_409(app, as_user, world):
    """A request holding the key and not yet answered (claimed, no answer stored) wins."""
    api = as_user("auditor")
    request_body = assessment_body(world)
    with app.test_request_context(
        "/api/v1/assessments", method="POST", json=request_body, headers={"Idempotency-Key": KEY}
    ):
        from audit.api.idempotency import fingerprint

        with app.app_context():
            claimed = svc.claim(
                db.session, world["auditor"], KEY, fingerprint(), retention=timedelta(hours=24)
            )
    assert claimed is None
    before = count(app, Assessment)
    body = error_of(keyed(api, "/api/v1/assessments", json=request_body), 409)
    assert "still being processed" in body["message"]
    assert count(app, Assessment) == before
    # a claim whose worker died (older than the in-flight limit) is taken over
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(minutes=10))
        )
        db.session.commit()
    assert keyed(api, "/api/v1/assessments", json=request_body).status_code == 201
    assert count(app, Assessment) == before + 1


def test_keys_belong_to_their_user(app, as_user, world):
    first = keyed(as_user("auditor"), "/api/v1/assessments", json=assessment_body(world))
    other = keyed(as_user("admin"), "/api/v1/assessments", json=assessment_body(world))
    assert first.status_code == other.status_code == 201
    assert "Idempotent-Replayed" not in other.headers
    assert first.get_json()["id"] != other.get_json()["id"]
    # another token of the same user shares the user's keys
    again = keyed(as_user("auditor"), "/api/v1/assessments", json=assessment_body(world))
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "k" * 256, "clé", "tab\there"])
def test_malformed_keys_are_400(app, as_user, world, key):
    before = count(app, Assessment)
    body = error_of(keyed(as_user("auditor"), "/api/v1/assessments", key=key, json={}), 400)
    assert "Idempotency-Key" in body["message"]
    assert count(app, Assessment) == before


def test_the_longest_key_is_accepted(as_user, world):
    key = "~" * 255
    assert keyed(as_user("auditor"), "/api/v1/assessments", key=key, json=assessment_body(world))
    again = keyed(as_user("auditor"), "/api/v1/assessments", key=key, json=assessment_body(world))
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_refused_request_frees_its_key(app, as_user, world):
    api = as_user("auditor")
    error_of(keyed(api, "/api/v1/assessments", json=assessment_body(world, auditor_ids=[])), 422)
    fixed = keyed(api, "/api/v1/assessments", json=assessment_body(world))
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_expired_keys_are_ignored_and_purged(app, as_user, world, runner):
    api = as_user("auditor")
    before = count(app, Assessment)
    assert keyed(api, "/api/v1/assessments", json=assessment_body(world)).status_code == 201
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
        db.session.commit()
    later = keyed(api, "/api/v1/assessments", json=assessment_body(world))
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert count(app, Assessment) == before + 2
    assert count(app, IdempotencyKey) == 1  # the old one went when the new one came

    app.config["IDEMPOTENCY_HOURS"] = 1
    with app.app_context():
        db.session.execute(
            sa.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=2))
        )
        db.session.commit()
    result = runner.invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 idempotency key(s) older than 1 hours" in result.output
    assert count(app, IdempotencyKey) == 0


def test_two_app_instances_on_one_database_share_the_keys(app, database_url, world, make_token):
    """Two workers (two apps, two engines) behind one load balancer: one assessment."""
    secret = make_token(world["auditor"])
    other = create_app(app_config(database_url))
    try:
        first = keyed(
            ApiClient(app.test_client(), secret), "/api/v1/assessments", json=assessment_body(world)
        )
        second = keyed(
            ApiClient(other.test_client(), secret),
            "/api/v1/assessments",
            json=assessment_body(world),
        )
        assert first.status_code == second.status_code == 201
        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.get_json() == first.get_json()
        conflict = keyed(
            ApiClient(other.test_client(), secret),
            "/api/v1/assessments",
            json=assessment_body(world, title="Changed"),
        )
        error_of(conflict, 422)
    finally:
        db.engine_for(other).dispose()
    assert count(app, Assessment) == 2  # the world's and the keyed one


def test_get_ignores_the_header(as_user, world):
    response = as_user("auditor").get("/api/v1/assessments", headers={"Idempotency-Key": ""})
    assert response.status_code == 200


def test_the_header_is_documented_on_every_post(client):
    document = client.get("/api/v1/openapi.json").get_json()
    parameter = document["components"]["parameters"]["IDEMPOTENCY_KEY"]
    assert parameter["in"] == "header" and parameter["name"] == "Idempotency-Key"
    posts = [op for path in document["paths"].values() for m, op in path.items() if m == "post"]
    assert posts
    for operation in posts:
        refs = [p.get("$ref") for p in operation.get("parameters", [])]
        assert "#/components/parameters/IDEMPOTENCY_KEY" in refs, operation.get("operationId")
        assert {"409", "422"} <= set(operation["responses"])


def test_concurrent_retries_create_one_row(app, database_url, world, make_token):
    """Eight simultaneous sends of one keyed request over two workers: one assessment.

    Each answer is the first one (201, possibly replayed) or 409 while it is in flight.
    """
    from concurrent.futures import ThreadPoolExecutor

    secret = make_token(world["auditor"])
    other = create_app(app_config(database_url))
    workers = [app, other]
    before = count(app, Assessment)

    def send(n: int):
        api = ApiClient(workers[n % 2].test_client(), secret)
        response = keyed(api, "/api/v1/assessments", key="race", json=assessment_body(world))
        return response.status_code, response.headers.get("Idempotent-Replayed")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(send, range(8)))
    finally:
        db.engine_for(other).dispose()
    assert [a for a in answers if a == (201, None)] == [(201, None)], answers
    assert all(a in ((201, None), (201, "true"), (409, None)) for a in answers), answers
    assert count(app, Assessment) == before + 1
    # once answered, every retry gets it
    again = keyed(
        ApiClient(app.test_client(), secret),
        "/api/v1/assessments",
        key="race",
        json=assessment_body(world),
    )
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
