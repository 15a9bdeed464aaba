"""Web hardening: headers, cookies, a new session on sign-in, sign-in throttling."""

import re

import pytest

from audit import create_app
from audit.security import CONTENT_SECURITY_POLICY
from tests.conftest import DEMO_PASSWORD, csrf_token


def test_security_headers_on_every_page(client, auth, make_user):
    make_user("kenji@example.com")
    for url in ("/auth/login", "/static/kansa.css"):
        headers = client.get(url).headers
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    auth.login("kenji@example.com")
    page = client.get("/")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_pages_have_no_inline_script_or_style(app, client, auth, loaded_checklists):
    from audit.extensions import db
    from tests import factories

    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        aid, sid = assessment.id, assessment.subcontractor_id
    auth.login("admin@example.com")
    for url in (
        "/",
        "/assessments/",
        "/assessments/new",
        "/findings/",
        "/subcontractors/",
        "/subcontractors/new",
        "/checklists/",
        "/checklists/safety-management/1.0.0",
        "/admin/users",
        "/admin/webhooks/",
        f"/assessments/{aid}",
        f"/assessments/{aid}/review",
        f"/assessments/{aid}/findings",
        f"/subcontractors/{sid}",
        f"/subcontractors/{sid}/edit",
    ):
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers


def test_session_cookie_flags(app, client, auth, make_user):
    make_user("kenji@example.com")
    response = auth.login("kenji@example.com")
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_cookies_are_not_secure_in_local_development(tmp_path, monkeypatch):
    monkeypatch.setenv("KANSA_ENV", "development")
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert app.config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("KANSA_ENV", "production")
    app = create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_sign_in_starts_a_new_session(client, make_user):
    make_user("kenji@example.com")
    token = csrf_token(client)
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    client.post(
        "/auth/login",
        data={"email": "kenji@example.com", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("_user_id")


def failed(client, email, password="wrong password!"):
    return client.post(
        "/auth/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )


def test_failed_sign_ins_are_limited_per_account(client, make_user):
    make_user("kenji@example.com")
    for _ in range(5):
        assert failed(client, "kenji@example.com").status_code == 400
    locked = failed(client, "kenji@example.com", DEMO_PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this account" in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302
    make_user("yui@example.com")
    ok = failed(client, "yui@example.com", DEMO_PASSWORD)  # other accounts are unaffected
    assert ok.status_code == 302


def test_failed_sign_ins_are_limited_per_address(client, make_user):
    make_user("kenji@example.com")
    for n in range(20):
        failed(client, f"guess{n}@example.com")
    refused = failed(client, "kenji@example.com", DEMO_PASSWORD)
    assert refused.status_code == 429
    assert "from your network address" in refused.get_data(as_text=True)
    other = client.post(
        "/auth/login",
        data={
            "email": "kenji@example.com",
            "password": DEMO_PASSWORD,
            "csrf_token": csrf_token(client),
        },
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 302


@pytest.mark.parametrize("email", ["nobody@example.com", "kenji@example.com"])
def test_an_unknown_account_costs_one_check_with_the_configured_method(
    app, client, make_user, monkeypatch, email
):
    """The timing equaliser hashes with the accounts' method, so both refusals cost the same."""
    from audit.services import users

    make_user("kenji@example.com")
    checked: list[str] = []
    real = users.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(users, "check_password_hash", spy)
    assert failed(client, email).status_code == 400
    method = app.config["PASSWORD_HASH_METHOD"]  # pbkdf2:sha256:1000 in tests, not scrypt
    assert len(checked) == 1 and checked[0].startswith(f"{method}$"), checked


def test_a_success_clears_the_account_count(client, make_user, auth):
    make_user("kenji@example.com")
    for _ in range(4):
        failed(client, "kenji@example.com")
    assert auth.login("kenji@example.com").status_code == 302
    auth.logout()
    for _ in range(4):
        assert failed(client, "kenji@example.com").status_code == 400


@pytest.mark.parametrize("url", ["/auth/logout", "/admin/users", "/assessments/new"])
def test_posts_without_csrf_token_are_refused(client, auth, make_user, url):
    make_user("admin@example.com", "admin")
    auth.login("admin@example.com")
    response = client.post(url, data={})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
