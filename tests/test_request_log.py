"""Request logging: one line per request with its request id, its user and its status.

Records are collected by a handler the tests attach to ``kansa.request`` itself, so nothing
depends on the root logger or caplog; the lines as written are read from stderr with capsys,
which works because Kansa's handler writes to whatever ``sys.stderr`` is at the time.
"""

from __future__ import annotations

import importlib
import json
import logging
import re

import pytest
from flask import g
from flask.logging import default_handler

from audit import create_app
from audit.config import ConfigError, from_environment
from audit.extensions import db
from audit.models import User
from audit.services import tokens as token_service

HEX_ID = re.compile(r"[0-9a-f]{32}")
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _log_settings_not_from_the_environment(monkeypatch):
    """The defaults (text, INFO) for the ``app`` fixture, whatever the shell running pytest."""
    monkeypatch.delenv("KANSA_LOG_JSON", raising=False)
    monkeypatch.delenv("KANSA_LOG_LEVEL", raising=False)


@pytest.fixture
def lines():
    """The ``kansa.request`` records emitted during the test."""
    handler = Collect()
    logger = logging.getLogger("kansa.request")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


@pytest.fixture
def make_app(database_url):
    """``make_app(LOG_JSON=True, ...)``: an app like the ``app`` fixture's, with more settings."""
    made = []

    def make(**settings):
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test-secret-key",
                "DATABASE_URL": database_url,
                "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                **settings,
            }
        )
        made.append(app)
        return app

    yield make
    for app in made:
        db.engine_for(app).dispose()


def token_for(app, user_id: int, scope: str = "read") -> tuple[int, str]:
    with app.app_context():
        user = db.session.get(User, user_id)
        token, secret = token_service.create(db.session, user, name="log test", scope=scope)
        db.session.commit()
        return token.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def request_lines_written(err: str) -> list[str]:
    return [line for line in err.splitlines() if " kansa.request " in line]


def only(records):
    assert len(records) == 1, [r.getMessage() for r in records]
    return records[0]


def add_failing_route(app) -> None:
    def boom():
        raise RuntimeError("the database password is hunter2")

    app.add_url_rule("/_test/boom", "test_boom", boom)


# ----------------------------------------------------------------------------- who and what


def test_a_page_request_logs_one_line_with_path_status_and_user(
    client, auth, make_user, lines, capsys
):
    user_id = make_user("ann@example.com", "auditor")
    auth.login("ann@example.com")
    lines.clear()

    response = client.get("/assessments/")

    assert response.status_code == 200
    line = only(lines)
    assert (line.method, line.path, line.status) == ("GET", "/assessments/", 200)
    assert (line.user_id, line.user_role, line.token_id) == (user_id, "auditor", None)
    assert line.request_id == response.headers["X-Request-Id"]
    assert line.levelno == logging.INFO and line.duration_ms >= 0
    assert line.getMessage().endswith(f"user={user_id}(auditor)")
    assert "ann@example.com" not in capsys.readouterr().err  # personal data stays out


def test_an_anonymous_request_logs_user_dash(client, lines):
    response = client.get("/auth/login")

    assert response.status_code == 200
    line = only(lines)
    assert (line.path, line.status, line.user_id, line.user_role) == (
        "/auth/login",
        200,
        None,
        None,
    )
    assert line.getMessage().endswith("user=-")


def test_an_api_request_logs_the_user_and_token_behind_the_bearer_token(
    app, client, make_user, lines
):
    user_id = make_user("robot@example.com", "reviewer")
    token_id, secret = token_for(app, user_id)

    response = client.get("/api/v1/me", headers=bearer(secret))

    assert response.status_code == 200
    line = only(lines)
    assert (line.path, line.status) == ("/api/v1/me", 200)
    assert (line.user_id, line.user_role, line.token_id) == (user_id, "reviewer", token_id)
    assert line.getMessage().endswith(f"user={user_id}(reviewer) token={token_id}")
    assert line.request_id == response.headers["X-Request-Id"]


def test_a_signed_in_session_does_not_name_the_user_of_an_api_request(
    client, auth, make_user, lines
):
    make_user("ann@example.com", "auditor")
    auth.login("ann@example.com")
    lines.clear()

    response = client.get("/api/v1/me")  # the cookie goes along, but the API ignores it

    assert response.status_code == 401
    line = only(lines)
    assert (line.status, line.user_id) == (401, None)


def test_the_request_that_signs_in_names_the_user_it_signed_in(client, auth, make_user, lines):
    user_id = make_user("ann@example.com", "admin")
    lines.clear()

    response = auth.login("ann@example.com")

    assert response.status_code == 302
    posted = [r for r in lines if r.method == "POST"]
    assert [(r.path, r.status, r.user_id, r.user_role) for r in posted] == [
        ("/auth/login", 302, user_id, "admin")
    ]


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("GET", "/api/v1/no-such-thing", 404),
        ("DELETE", "/auth/login", 405),
        ("POST", "/api/v1/openapi.json", 405),
        ("GET", "/static/no-such-file.css", 404),
        ("POST", "/auth/login", 400),  # refused by the CSRF check, before any view
    ],
)
def test_error_responses_are_logged_with_their_status_and_carry_the_request_id(
    client, lines, method, path, status
):
    response = client.open(path, method=method)

    assert response.status_code == status
    line = only(lines)
    assert (line.method, line.path, line.status) == (method, path, status)
    assert line.levelno == logging.INFO
    assert HEX_ID.fullmatch(response.headers["X-Request-Id"])
    assert line.request_id == response.headers["X-Request-Id"]


@pytest.mark.fresh_app
def test_an_unhandled_exception_is_a_500_logged_once_with_its_request_id(
    app, client, lines, capsys
):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production
    add_failing_route(app)

    response = client.get("/_test/boom")

    assert response.status_code == 500
    request_id = response.headers["X-Request-Id"]
    line = only(lines)
    assert (line.path, line.status, line.request_id) == ("/_test/boom", 500, request_id)
    # Flask's own error log still appears, in the same format and with the request id
    err = capsys.readouterr().err
    assert re.search(
        rf"^{TIME} ERROR {app.logger.name} rid={request_id} Exception on /_test/boom \[GET\]$",
        err,
        re.MULTILINE,
    )
    assert "Traceback" in err
    assert len(request_lines_written(err)) == 1


@pytest.mark.fresh_app
def test_an_exception_reaching_the_server_is_still_logged_once_as_a_500(app, client, lines):
    add_failing_route(app)  # TESTING: Flask lets the exception through to the caller

    with pytest.raises(RuntimeError, match="hunter2"):
        client.get("/_test/boom")

    line = only(lines)
    assert (line.path, line.status) == ("/_test/boom", 500)
    assert HEX_ID.fullmatch(line.request_id)


def test_a_500_of_the_api_is_logged_with_the_tokens_user(
    app, client, make_user, lines, monkeypatch
):
    def broken():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    me_view = importlib.import_module("audit.api.me")  # `audit.api` is also the Api object
    monkeypatch.setattr(me_view, "current_token", broken)  # called after the token is checked
    user_id = make_user("robot@example.com", "auditor")
    _, secret = token_for(app, user_id)

    response = client.get("/api/v1/me", headers=bearer(secret))

    assert response.status_code == 500
    line = only(lines)
    assert (line.status, line.user_id, line.request_id) == (
        500,
        user_id,
        response.headers["X-Request-Id"],
    )


# ----------------------------------------------------------------------------- request ids


@pytest.mark.fresh_app
def test_a_valid_incoming_request_id_is_used_echoed_and_logged(app, client, lines):
    app.add_url_rule("/_test/rid", "test_rid", lambda: g.request_id)

    response = client.get("/_test/rid", headers={"X-Request-Id": "lb-7f3a.2_X"})

    assert response.get_data(as_text=True) == "lb-7f3a.2_X"  # g.request_id, for the views
    assert response.headers["X-Request-Id"] == "lb-7f3a.2_X"
    assert only(lines).request_id == "lb-7f3a.2_X"


@pytest.mark.parametrize(
    "incoming",
    [
        "x" * 65,
        "two words",
        "abc\nINFO kansa.request rid=forged GET /admin 200",
        "abc\r\nSet-Cookie: x=1",
        "ünïcödé",
        "a;b",
        "",
    ],
)
def test_an_unsafe_incoming_request_id_is_replaced(client, lines, capsys, incoming):
    # through the WSGI environ: the test client itself refuses line breaks in headers
    response = client.get("/auth/login", environ_base={"HTTP_X_REQUEST_ID": incoming})

    request_id = response.headers["X-Request-Id"]
    assert HEX_ID.fullmatch(request_id) and request_id != incoming
    assert only(lines).request_id == request_id
    err = capsys.readouterr().err
    assert "forged" not in err and "Set-Cookie" not in err
    assert len(request_lines_written(err)) == 1


def test_every_request_gets_its_own_id(client):
    first = client.get("/auth/login").headers["X-Request-Id"]
    second = client.get("/auth/login").headers["X-Request-Id"]
    assert first != second


def test_ids_do_not_leak_between_requests_of_one_app_context(app, client, lines):
    with app.app_context():  # g lives as long as the app context, here both requests
        first = client.get("/auth/login").headers["X-Request-Id"]
        second = client.get("/no-such-page").headers["X-Request-Id"]
    assert first != second
    assert [(r.request_id, r.status) for r in lines] == [(first, 200), (second, 404)]


# ----------------------------------------------------------------------------- what stays out


def test_the_query_string_is_not_logged(client, lines, capsys):
    response = client.get("/auth/login?next=/admin&token=s3cret-token&q=hidden-term")

    assert response.status_code == 200
    assert only(lines).path == "/auth/login"
    err = capsys.readouterr().err
    assert "s3cret" not in err and "hidden-term" not in err
    assert len(request_lines_written(err)) == 1


def test_a_path_with_line_breaks_cannot_forge_a_line(client, lines, capsys):
    response = client.get("/x%0A2026-01-01T00:00:00.000Z%20INFO%20kansa.request%20forged")

    assert response.status_code == 404
    assert only(lines).path == "/x%0A2026-01-01T00:00:00.000Z%20INFO%20kansa.request%20forged"
    err = capsys.readouterr().err
    assert len(request_lines_written(err)) == 1
    assert not any(line.startswith("2026-01-01") for line in err.splitlines())


def test_a_test_request_context_is_not_logged_as_a_request(app, lines):
    with app.test_request_context("/assessments/"):
        pass
    assert lines == []


# ----------------------------------------------------------------------------- formats


def test_text_lines(make_app, capsys):
    app = make_app(LOG_JSON=False)
    capsys.readouterr()

    response = app.test_client().get("/auth/login?q=1")

    request_id = response.headers["X-Request-Id"]
    [line] = request_lines_written(capsys.readouterr().err)
    assert re.fullmatch(
        rf"{TIME} INFO kansa\.request rid={request_id} GET /auth/login 200 \d+\.\dms user=-",
        line,
    ), line


def test_json_lines_carry_the_request_fields(make_app, make_user, capsys):
    app = make_app(LOG_JSON=True)
    user_id = make_user("robot@example.com", "auditor")
    token_id, secret = token_for(app, user_id)
    capsys.readouterr()

    # a query parameter the endpoint declares (an unknown one is a 400)
    response = app.test_client().get("/api/v1/subcontractors?q=secret-term", headers=bearer(secret))

    err = capsys.readouterr().err
    entries = [json.loads(line) for line in err.splitlines()]  # every line is a JSON object
    [entry] = [e for e in entries if e["logger"] == "kansa.request"]
    assert re.fullmatch(TIME, entry["time"])
    assert {k: v for k, v in entry.items() if k not in ("time", "duration_ms")} == {
        "level": "INFO",
        "logger": "kansa.request",
        "message": f"GET /api/v1/subcontractors 200 {entry['duration_ms']:.1f}ms "
        f"user={user_id}(auditor) token={token_id}",
        "request_id": response.headers["X-Request-Id"],
        "method": "GET",
        "path": "/api/v1/subcontractors",
        "status": 200,
        "user_id": user_id,
        "user_role": "auditor",
        "token_id": token_id,
        "remote_addr": "127.0.0.1",
    }
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert "secret-term" not in err and "robot@example.com" not in err


def test_json_lines_for_an_anonymous_request_and_for_flasks_error_log(make_app, capsys):
    app = make_app(LOG_JSON=True, PROPAGATE_EXCEPTIONS=False)
    add_failing_route(app)
    capsys.readouterr()

    response = app.test_client().get("/_test/boom")

    assert response.status_code == 500
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    by_logger = {e["logger"]: e for e in entries}
    assert sorted(by_logger) == sorted([app.logger.name, "kansa.request"])
    request_id = response.headers["X-Request-Id"]
    error = by_logger[app.logger.name]
    assert (error["level"], error["request_id"]) == ("ERROR", request_id)
    assert error["message"] == "Exception on /_test/boom [GET]"
    assert "RuntimeError" in error["exception"]
    line = by_logger["kansa.request"]
    assert (line["status"], line["user_id"], line["user_role"]) == (500, None, None)
    assert line["request_id"] == request_id


# ----------------------------------------------------------------------------- configuration


def test_creating_many_apps_does_not_duplicate_lines(make_app, capsys):
    flask_logger = logging.getLogger("audit")
    flask_logger.addHandler(default_handler)  # as if an app.logger had been used before
    try:
        for _ in range(4):  # any app after the first would add a second line if it could
            app = make_app()
        assert default_handler not in flask_logger.handlers  # Flask's handler makes way
    finally:
        flask_logger.removeHandler(default_handler)
    capsys.readouterr()

    app.test_client().get("/auth/login")
    with app.app_context():
        app.logger.warning("one warning")

    err = capsys.readouterr().err
    assert len(request_lines_written(err)) == 1
    assert len([line for line in err.splitlines() if "one warning" in line]) == 1
    for name in ("kansa", app.logger.name):
        handlers = logging.getLogger(name).handlers
        assert len([h for h in handlers if getattr(h, "kansa", False)]) == 1, handlers


def test_static_files_are_logged_at_debug_only(make_app, lines):
    app = make_app(LOG_LEVEL="DEBUG")
    response = app.test_client().get("/static/kansa.css")
    assert response.status_code == 200
    line = only(lines)
    assert (line.path, line.status, line.levelno) == ("/static/kansa.css", 200, logging.DEBUG)
    assert response.headers["X-Request-Id"] == line.request_id
    response.close()

    lines.clear()
    app = make_app()  # INFO
    response = app.test_client().get("/static/kansa.css")
    assert response.status_code == 200 and "X-Request-Id" in response.headers
    assert lines == []
    response.close()


def test_log_level_warning_leaves_out_the_request_lines(make_app, lines):
    app = make_app(LOG_LEVEL="warning")
    assert app.test_client().get("/no-such-page").status_code == 404
    assert lines == []


def test_log_settings_come_from_the_environment(tmp_path):
    config = from_environment(str(tmp_path), {"KANSA_LOG_JSON": "1", "KANSA_LOG_LEVEL": "debug"})
    assert (config["LOG_JSON"], config["LOG_LEVEL"]) == (True, "debug")
    config = from_environment(str(tmp_path), {})
    assert (config["LOG_JSON"], config["LOG_LEVEL"]) == (False, "INFO")


def test_an_unknown_log_level_is_a_start_up_error(make_app):
    with pytest.raises(ConfigError, match="KANSA_LOG_LEVEL must be DEBUG, INFO"):
        make_app(LOG_LEVEL="chatty")
