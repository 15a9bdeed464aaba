"""Bearer tokens: 401 for missing, bad, expired, revoked tokens; 403 for scope and role."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import ApiToken, AuditEvent, Subcontractor, User, utcnow
from audit.services import tokens as token_service
from tests.api.conftest import ApiClient, error_of
from tests.conftest import DEMO_PASSWORD, csrf_token


def test_missing_token_is_401_with_a_challenge(anonymous, world):
    body = error_of(anonymous.get("/api/v1/me"), 401)
    assert "Bearer" in body["message"]
    response = anonymous.get("/api/v1/assessments")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token kansa_abc", "kansa_abc"],
)
def test_malformed_authorization_is_401(anonymous, world, header):
    error_of(anonymous.get("/api/v1/me", headers={"Authorization": header}), 401)


def test_unknown_token_is_401(client, world):
    body = error_of(ApiClient(client, "kansa_" + "x" * 43).get("/api/v1/me"), 401)
    assert "not valid" in body["message"]
    body = error_of(ApiClient(client, "ghp_notours").get("/api/v1/me"), 401)
    assert "not a Kansa API token" in body["message"]


def test_expired_token_is_401_saying_expired(app, client, world, make_token):
    secret = make_token(world["auditor"], "read", expires_days=1)
    assert ApiClient(client, secret).get("/api/v1/me").status_code == 200
    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
        token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    body = error_of(ApiClient(client, secret).get("/api/v1/me"), 401)
    assert "expired" in body["message"]


def test_revoked_token_is_401_saying_revoked(app, client, world, make_token):
    secret = make_token(world["auditor"], "read")
    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
        token_service.revoke(db.session, None, token)
        db.session.commit()
    body = error_of(ApiClient(client, secret).get("/api/v1/me"), 401)
    assert "revoked" in body["message"]


def test_token_of_a_deactivated_user_is_401(app, client, world, make_token):
    secret = make_token(world["auditor"], "read")
    with app.app_context():
        db.session.get(User, world["auditor"]).active = False
        db.session.commit()
    body = error_of(ApiClient(client, secret).get("/api/v1/me"), 401)
    assert "deactivated" in body["message"]


def test_me_shows_user_role_and_token_scope(as_user, world):
    response = as_user("reviewer", "read").get("/api/v1/me")
    assert response.status_code == 200
    body = response.get_json()
    assert body["role"] == "reviewer" and body["email"] == "reviewer@example.com"
    assert body["token"]["scope"] == "read"
    assert body["token"]["prefix"].startswith("kansa_")
    assert "token_hash" not in body["token"]


def test_last_used_is_noted_at_most_once_a_minute(app, client, world, make_token):
    secret = make_token(world["auditor"], "read")
    api = ApiClient(client, secret)
    assert api.get("/api/v1/me").status_code == 200
    with app.app_context():
        first = db.session.exec(select(ApiToken)).one().last_used_at
    assert first is not None
    assert api.get("/api/v1/me").status_code == 200
    with app.app_context():
        assert db.session.exec(select(ApiToken)).one().last_used_at == first
        token = db.session.exec(select(ApiToken)).one()
        token.last_used_at = first - timedelta(minutes=2)
        db.session.commit()
    assert api.get("/api/v1/me").status_code == 200
    with app.app_context():
        assert db.session.exec(select(ApiToken)).one().last_used_at > first - timedelta(minutes=2)


def test_read_scope_cannot_write(as_user, world):
    api = as_user("admin", "read")
    body = error_of(
        api.post("/api/v1/subcontractors", json={"name": "X", "country": "JP", "tier": 1}), 403
    )
    assert "scope is read" in body["message"]
    assert api.get("/api/v1/subcontractors").status_code == 200


def test_write_scope_cannot_administer(as_user, world):
    response = as_user("admin", "write").post(
        "/api/v1/checklists",
        data={"file": (io.BytesIO(b"x: 1\n"), "x.yaml")},
        content_type="multipart/form-data",
    )
    body = error_of(response, 403)
    assert "admin-scope" in body["message"]


def test_scope_never_exceeds_role(as_user, world):
    """An admin-scope token of a viewer is still a viewer; of an auditor still an auditor."""
    viewer = as_user("viewer", "admin")
    error_of(
        viewer.post("/api/v1/subcontractors", json={"name": "X", "country": "JP", "tier": 1}), 403
    )
    auditor = as_user("auditor", "admin")
    body = error_of(
        auditor.post(
            "/api/v1/checklists",
            data={"file": (io.BytesIO(b"x: 1\n"), "x.yaml")},
            content_type="multipart/form-data",
        ),
        403,
    )
    assert "admins" in body["message"]


def test_browser_session_does_not_authorize_the_api(client, world, app):
    """Signed in on the web, without a bearer token: the API still answers 401, CSRF-free."""
    token = csrf_token(client)
    client.post(
        "/auth/login",
        data={"email": "admin@example.com", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert client.get("/").status_code == 200  # the session works for pages
    error_of(client.get("/api/v1/me"), 401)
    error_of(
        client.post("/api/v1/subcontractors", json={"name": "X", "country": "JP", "tier": 1}), 401
    )
    with app.app_context():
        found = db.session.exec(select(Subcontractor).where(Subcontractor.name == "X")).first()
        assert found is None


def test_api_writes_need_no_csrf_token(as_user, world):
    response = as_user("auditor").post(
        "/api/v1/subcontractors", json={"name": "Kumo KK", "country": "JP", "tier": 2}
    )
    assert response.status_code == 201, response.get_json()


def test_token_secret_is_stored_only_as_hash(app, world, make_token):
    secret = make_token(world["auditor"], "write")
    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
        assert token.token_hash == token_service.hash_secret(secret)
        assert secret not in (token.token_hash, token.prefix, token.name)
        assert token.prefix == secret[:12]
        events = db.session.exec(select(AuditEvent).where(AuditEvent.action == "token.created"))
        assert all(secret not in str(e.after) for e in events)
