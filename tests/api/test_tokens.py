"""Tokens from the command line and from the web page: shown once, listed by prefix, revoked."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import ApiToken, AuditEvent, User
from audit.services import ServiceError
from audit.services import tokens as token_service
from tests.api.conftest import ApiClient, error_of
from tests.conftest import DEMO_PASSWORD, csrf_token

SECRET = re.compile(r"kansa_[A-Za-z0-9_-]{43}")


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.exec(select(AuditEvent).where(AuditEvent.action == action)))


# ------------------------------------------------------------------------------ service


def test_service_refuses_bad_scope_name_and_expiry(app, world):
    with app.app_context():
        user = db.session.get(User, world["auditor"])
        for kwargs, field in (
            ({"name": "x", "scope": "root"}, "scope"),
            ({"name": "  ", "scope": "read"}, "name"),
            ({"name": "x" * 121, "scope": "read"}, "name"),
            ({"name": "x", "scope": "read", "expires_days": 0}, "expires_days"),
            ({"name": "x", "scope": "read", "expires_days": 4000}, "expires_days"),
        ):
            with pytest.raises(ServiceError) as caught:
                token_service.create(db.session, user, **kwargs)
            assert caught.value.field == field


def test_only_owner_or_admin_may_create_or_revoke(app, world):
    with app.app_context():
        auditor = db.session.get(User, world["auditor"])
        other = db.session.get(User, world["auditor2"])
        admin = db.session.get(User, world["admin"])
        with pytest.raises(ServiceError) as caught:
            token_service.create(db.session, auditor, name="x", scope="read", actor=other)
        assert caught.value.status == 403
        token, _ = token_service.create(db.session, auditor, name="x", scope="read", actor=admin)
        with pytest.raises(ServiceError) as caught:
            token_service.revoke(db.session, other, token)
        assert caught.value.status == 403
        token_service.revoke(db.session, auditor, token)
        with pytest.raises(ServiceError) as caught:
            token_service.revoke(db.session, auditor, token)
        assert caught.value.status == 409


# ------------------------------------------------------------------------------ command line


def test_cli_create_prints_the_secret_once_and_it_works(app, runner, client, world):
    result = runner.invoke(
        args=["tokens", "create", "Auditor@Example.com", "--scope", "write", "--expires", "30"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert SECRET.fullmatch(secret)
    assert "shown once" in result.stderr and "scope write" in result.stderr
    response = ApiClient(client, secret).get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == "auditor@example.com"
    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
        assert token.expires_at is not None and token.name.startswith("cli-")
    created = events(app, "token.created")
    assert len(created) == 1 and created[0].actor == "cli"


def test_cli_create_refuses_unknown_user_and_bad_options(runner, world):
    result = runner.invoke(args=["tokens", "create", "nobody@example.com", "--scope", "read"])
    assert result.exit_code != 0 and "no user" in result.output
    result = runner.invoke(args=["tokens", "create", "admin@example.com", "--scope", "root"])
    assert result.exit_code != 0
    result = runner.invoke(
        args=["tokens", "create", "admin@example.com", "--scope", "read", "--expires", "0"]
    )
    assert result.exit_code != 0


def test_cli_list_shows_prefixes_never_secrets(runner, world):
    created = runner.invoke(
        args=["tokens", "create", "admin@example.com", "--scope", "admin", "--name", "GRC sync"]
    )
    secret = created.stdout.strip()
    result = runner.invoke(args=["tokens", "list"])
    assert result.exit_code == 0
    assert secret[:12] in result.output and "GRC sync" in result.output
    assert secret not in result.output
    assert "active" in result.output
    result = runner.invoke(args=["tokens", "list", "viewer@example.com"])
    assert "no API tokens" in result.output


def test_cli_revoke_by_id_or_prefix(app, runner, client, world):
    first = runner.invoke(args=["tokens", "create", "admin@example.com", "--scope", "read"])
    second = runner.invoke(args=["tokens", "create", "admin@example.com", "--scope", "read"])
    one, two = first.stdout.strip(), second.stdout.strip()
    with app.app_context():
        first_id = db.session.exec(
            select(ApiToken.id).where(ApiToken.token_hash == token_service.hash_secret(one))
        ).one()
    result = runner.invoke(args=["tokens", "revoke", str(first_id)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["tokens", "revoke", two[:12] + "…"])
    assert result.exit_code == 0, result.output
    for secret in (one, two):
        assert "revoked" in error_of(ApiClient(client, secret).get("/api/v1/me"), 401)["message"]
    again = runner.invoke(args=["tokens", "revoke", str(first_id)])
    assert again.exit_code != 0 and "already revoked" in again.output
    assert runner.invoke(args=["tokens", "revoke", "9999"]).exit_code != 0
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    assert len(events(app, "token.revoked")) == 2


# ------------------------------------------------------------------------------ web page


def sign_in(client, email: str) -> None:
    token = csrf_token(client)
    response = client.post(
        "/auth/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_page_needs_sign_in(client, world):
    response = client.get("/tokens/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_nav_links_to_the_page(client, world):
    sign_in(client, "viewer@example.com")
    assert 'href="/tokens/"' in client.get("/").get_data(as_text=True)


def test_page_creates_shows_secret_once_lists_prefix_and_revokes(app, client, world):
    sign_in(client, "auditor@example.com")
    page = client.get("/tokens/")
    assert page.status_code == 200 and "no API tokens yet" in page.get_data(as_text=True)
    response = client.post(
        "/tokens/",
        data={
            "name": "GRC sync",
            "scope": "write",
            "expires_days": "90",
            "csrf_token": csrf_token(client, "/tokens/"),
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secrets = SECRET.findall(html)
    assert len(set(secrets)) == 1
    secret = secrets[0]
    assert "shown only this once" in html

    # it works with the API, as the auditor
    me = ApiClient(client, secret).get("/api/v1/me").get_json()
    assert me["email"] == "auditor@example.com" and me["token"]["scope"] == "write"

    # listed by prefix only, never again in full
    listing = client.get("/tokens/").get_data(as_text=True)
    assert secret not in listing
    assert f"{secret[:12]}…" in listing and "GRC sync" in listing and "active" in listing

    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
        assert token.user_id == world["auditor"] and token.scope == "write"
    response = client.post(
        f"/tokens/{token.id}/revoke", data={"csrf_token": csrf_token(client, "/tokens/")}
    )
    assert response.status_code == 302
    listing = client.get("/tokens/").get_data(as_text=True)
    assert "revoked" in listing
    error_of(ApiClient(client, secret).get("/api/v1/me"), 401)
    assert len(events(app, "token.revoked")) == 1


def test_page_refuses_bad_input_and_missing_csrf(app, client, world):
    sign_in(client, "auditor@example.com")
    response = client.post(
        "/tokens/",
        data={"name": "", "scope": "write", "csrf_token": csrf_token(client, "/tokens/")},
    )
    assert response.status_code == 422
    assert "Give the token a name" in response.get_data(as_text=True)
    response = client.post("/tokens/", data={"name": "x", "scope": "read"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.exec(select(ApiToken)).first() is None


def test_page_cannot_revoke_someone_elses_token(app, client, world, make_token):
    make_token(world["auditor2"], "read")
    with app.app_context():
        token = db.session.exec(select(ApiToken)).one()
    sign_in(client, "auditor@example.com")
    assert token.prefix not in client.get("/tokens/").get_data(as_text=True)
    response = client.post(
        f"/tokens/{token.id}/revoke", data={"csrf_token": csrf_token(client, "/tokens/")}
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token.id).revoked_at is None
