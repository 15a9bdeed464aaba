"""Signing in and out, with CSRF on every form."""

from tests.conftest import DEMO_PASSWORD, csrf_token


def test_login_page_has_a_csrf_protected_form(client):
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_home_needs_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_login_and_logout(client, auth, make_user):
    make_user("kenji@example.com", "auditor")
    response = auth.login("kenji@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "kenji" in home.get_data(as_text=True)
    out = auth.logout()
    assert out.status_code == 302
    assert client.get("/").status_code == 302


def test_login_is_case_insensitive_on_email(client, auth, make_user):
    make_user("kenji@example.com")
    assert auth.login("  Kenji@Example.COM ").status_code == 302


def test_wrong_password_re_renders_with_a_message(client, auth, make_user):
    make_user("kenji@example.com")
    response = auth.login("kenji@example.com", "not the password")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "E-mail or password is not correct." in body
    assert 'value="kenji@example.com"' in body  # what the user typed is kept
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(auth):
    response = auth.login("nobody@example.com")
    assert response.status_code == 400
    assert "E-mail or password is not correct." in response.get_data(as_text=True)


def test_empty_fields_get_field_messages(client):
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": "", "password": "", "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter your e-mail address." in body
    assert "Enter your password." in body


def test_inactive_user_cannot_sign_in(app, auth, make_user):
    from audit.extensions import db
    from audit.models import User

    user_id = make_user("gone@example.com")
    with app.app_context():
        user = db.session.get(User, user_id)
        user.active = False
        db.session.commit()
    assert auth.login("gone@example.com").status_code == 400


def test_login_without_csrf_token_is_refused(client, make_user):
    make_user("kenji@example.com")
    response = client.post(
        "/auth/login", data={"email": "kenji@example.com", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 400
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_without_csrf_token_is_refused(client, auth, make_user):
    make_user("kenji@example.com")
    auth.login("kenji@example.com")
    response = client.post("/auth/logout")
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_logout_by_get_is_not_allowed(client, auth, make_user):
    make_user("kenji@example.com")
    auth.login("kenji@example.com")
    assert client.get("/auth/logout").status_code == 405


def test_next_parameter_only_redirects_within_the_site(client, make_user):
    make_user("kenji@example.com")
    token = csrf_token(client)
    data = {"email": "kenji@example.com", "password": DEMO_PASSWORD, "csrf_token": token}
    response = client.post("/auth/login?next=https://evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_passwords_are_stored_with_a_modern_kdf(app, make_user):
    from audit.config import from_environment
    from audit.extensions import db
    from audit.models import User

    app.config["PASSWORD_HASH_METHOD"] = from_environment("/tmp", {})["PASSWORD_HASH_METHOD"]
    user_id = make_user("kenji@example.com")
    with app.app_context():
        stored = db.session.get(User, user_id).password_hash
    assert stored.startswith("scrypt:")
    assert DEMO_PASSWORD not in stored


def test_sign_in_is_recorded_in_the_audit_trail(app, auth, make_user):
    from sqlmodel import select

    from audit.extensions import db
    from audit.models import AuditEvent

    make_user("kenji@example.com")
    auth.login("kenji@example.com")
    with app.app_context():
        actions = db.session.exec(select(AuditEvent.action)).all()
    assert "user.signed_in" in actions
