"""Rate limits on the API (Flask-Limiter): per token, per address for bad tokens, in Redis.

Issue 11, defect 7: 300 rapid GETs and 100 bad tokens all answered normally. The shared test
app has limits far above any test (``tests/conftest.py``) and no request counted at the start
of a test; these tests set low ones.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from audit import create_app
from audit.config import ConfigError, from_environment
from audit.extensions import db
from tests.api.conftest import ApiClient, error_of
from tests.conftest import app_config

REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of its own; keys under a test's prefix


def limited(response) -> dict:
    body = error_of(response, 429)
    retry = response.headers["Retry-After"]
    assert retry.isdigit() and 1 <= int(retry) <= 60, retry
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert "too many requests" in body["message"]
    return body


def test_each_token_has_its_own_limit(app, client, world, make_token):
    app.config["RATELIMIT_API"] = "3 per minute"
    one = ApiClient(client, make_token(world["auditor"]))
    other = ApiClient(client, make_token(world["auditor"]))  # same person and address
    for remaining in ("2", "1", "0"):
        response = one.get("/api/v1/me")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == remaining
        assert int(response.headers["X-RateLimit-Reset"]) > time.time()
        assert "Retry-After" not in response.headers
    body = limited(one.get("/api/v1/assessments"))  # every endpoint counts against one budget
    assert "with this token" in body["message"]
    limited(one.post("/api/v1/subcontractors", json={"name": "Never made", "country": "JP"}))
    assert other.get("/api/v1/me").status_code == 200


def test_bad_tokens_are_cut_off_per_address(app, client, world, make_token):
    app.config["RATELIMIT_API_ANONYMOUS"] = "5 per minute"
    guesser = {"REMOTE_ADDR": "198.51.100.7"}
    answers = [
        client.get(
            "/api/v1/me",
            headers={"Authorization": f"Bearer kansa_guess{n:04d}"},
            environ_base=guesser,
        ).status_code
        for n in range(100)
    ]
    assert answers == [401] * 5 + [429] * 95
    refused = client.get("/api/v1/me", environ_base=guesser)  # no token at all
    assert "without a valid token" in limited(refused)["message"]
    # the address is cut off: not even a real token is looked at from it until the window ends
    secret = make_token(world["auditor"])
    headers = {"Authorization": f"Bearer {secret}"}
    limited(client.get("/api/v1/me", headers=headers, environ_base=guesser))
    # another address is not
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/api/v1/me", headers=headers, environ_base=elsewhere).status_code == 200
    error_of(client.get("/api/v1/me", environ_base=elsewhere), 401)


def test_the_defaults_stop_what_the_issue_saw(app, client, world, make_token):
    """300 rapid GETs (and one: however slow the machine, the minute's budget is 300) and 100
    bad tokens, with the limits a fresh installation has."""
    defaults = from_environment(app.instance_path, {})
    for setting in ("RATELIMIT_API", "RATELIMIT_API_ANONYMOUS"):
        app.config[setting] = defaults[setting]
    api = ApiClient(client, make_token(world["auditor"]))
    answers = [api.get("/api/v1/me").status_code for _ in range(301)]
    assert 429 in answers and set(answers) == {200, 429}
    assert answers[:20] == [200] * 20
    bad = [
        client.get("/api/v1/me", headers={"Authorization": f"Bearer kansa_x{n}"}).status_code
        for n in range(100)
    ]
    assert bad == [401] * 30 + [429] * 70


def test_good_tokens_do_not_spend_the_address_budget(app, client, world, make_token):
    app.config["RATELIMIT_API_ANONYMOUS"] = "2 per minute"
    api = ApiClient(client, make_token(world["auditor"]))
    for _ in range(10):
        assert api.get("/api/v1/me").status_code == 200
    error_of(ApiClient(client, "kansa_wrong").get("/api/v1/me"), 401)


def test_limits_can_be_switched_off(app, client, world, make_token):
    app.config["RATELIMIT_API"] = "1 per minute"
    app.config["RATELIMIT_ENABLED"] = False
    api = ApiClient(client, make_token(world["auditor"]))
    assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3


def test_pages_are_not_limited_by_the_api_limits(app, client):
    app.config["RATELIMIT_API_ANONYMOUS"] = "1 per minute"
    assert [client.get("/auth/login").status_code for _ in range(3)] == [200] * 3


def _redis_or_skip():
    """A connection to the test Redis; skipped without one, except where CI starts one
    (``KANSA_TEST_REDIS=required`` in .ci/run), where its absence is a failure."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("KANSA_TEST_REDIS") == "required":
            pytest.fail("KANSA_TEST_REDIS=required but no Redis answers at 127.0.0.1:6379")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return connection


def test_workers_sharing_redis_share_the_counts(database_url, world, make_token, app):
    """Two apps (two workers) on one Redis: the token's budget is one, not one per worker."""
    connection = _redis_or_skip()
    prefix = f"kansa-test-{uuid.uuid4().hex}"
    settings = app_config(database_url) | {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_API": "3 per minute",
    }
    workers = [create_app(settings), create_app(settings)]
    secret = make_token(world["auditor"])
    try:
        clients = [ApiClient(w.test_client(), secret) for w in workers]
        assert clients[0].get("/api/v1/me").status_code == 200
        assert clients[1].get("/api/v1/me").status_code == 200
        assert clients[0].get("/api/v1/me").status_code == 200
        limited(clients[1].get("/api/v1/me"))
        assert connection.keys(f"*{prefix}*"), "no counter was kept in Redis"
    finally:
        for key in connection.scan_iter(f"*{prefix}*"):
            connection.delete(key)
        for worker in workers:
            db.engine_for(worker).dispose()


@pytest.mark.parametrize(
    "variable, value",
    [
        ("KANSA_RATELIMIT_API", "lots"),
        ("KANSA_RATELIMIT_API_ANONYMOUS", "5 per fortnight"),
        ("KANSA_RATELIMIT_STORAGE_URI", "memcache-ish://nowhere"),
        ("KANSA_RATELIMIT_STORAGE_URI", "127.0.0.1:6379"),
    ],
)
def test_bad_limit_settings_stop_the_start(tmp_path, variable, value):
    settings = from_environment(str(tmp_path), {variable: value})
    with pytest.raises(ConfigError, match=variable):
        create_app({**settings, "TESTING": True, "SECRET_KEY": "x"})


def test_settings_come_from_the_environment(tmp_path):
    env = {
        "KANSA_RATELIMIT_API": "10/second;1000/hour",
        "KANSA_RATELIMIT_API_ANONYMOUS": "20 per minute",
        "KANSA_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "KANSA_RATELIMIT_ENABLED": "0",
        "KANSA_IDEMPOTENCY_HOURS": "48",
    }
    settings = from_environment(str(tmp_path), env)
    assert settings["RATELIMIT_API"] == "10/second;1000/hour"
    assert settings["RATELIMIT_API_ANONYMOUS"] == "20 per minute"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert settings["RATELIMIT_ENABLED"] is False
    assert settings["IDEMPOTENCY_HOURS"] == 48
    defaults = from_environment(str(tmp_path), {})
    assert defaults["RATELIMIT_API"] == "20 per second;300 per minute"
    assert defaults["RATELIMIT_STORAGE_URI"] == "memory://"
    assert defaults["RATELIMIT_ENABLED"] is True


def test_429_is_documented_on_every_operation(client):
    document = client.get("/api/v1/openapi.json").get_json()
    response = document["components"]["responses"]["RATE_LIMITED"]
    assert "Retry-After" in response["headers"]
    for path in document["paths"].values():
        for method, operation in path.items():
            if method in ("get", "post", "put", "patch", "delete"):
                assert operation["responses"]["429"] == {
                    "$ref": "#/components/responses/RATE_LIMITED"
                }


def test_limits_off_from_the_start(database_url, world, make_token):
    settings = app_config(database_url) | {"RATELIMIT_ENABLED": False, "RATELIMIT_API": "1/minute"}
    other = create_app(settings)
    try:
        api = ApiClient(other.test_client(), make_token(world["auditor"]))
        assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200] * 3
    finally:
        db.engine_for(other).dispose()


def test_an_unreachable_redis_falls_back_to_memory(database_url, world, make_token):
    settings = app_config(database_url) | {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
        "RATELIMIT_API": "2 per minute",
    }
    other = create_app(settings)
    try:
        api = ApiClient(other.test_client(), make_token(world["auditor"]))
        assert [api.get("/api/v1/me").status_code for _ in range(2)] == [200] * 2
        limited(api.get("/api/v1/me"))
    finally:
        db.engine_for(other).dispose()
