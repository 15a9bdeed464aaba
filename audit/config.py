"""Configuration from the environment.

Every setting has an environment variable; tests and embedders pass a mapping to ``create_app``
instead. Nothing secret has a default: a missing ``SECRET_KEY`` outside debug and testing stops
the application at start-up with a message saying how to set it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .vocabulary import Visibility, values

ROOT = Path(__file__).resolve().parent.parent
#: the report's own stylesheet and fonts, the only files its renderer may fetch
STATIC_REPORTS = ROOT / "audit" / "static" / "reports"


class ConfigError(RuntimeError):
    """The configuration cannot run the application; the message says what to set."""


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= WEBHOOK_SECONDS_MAX:
        raise ConfigError(f"{name} must be above 0 and at most {WEBHOOK_SECONDS_MAX} seconds")
    return value


#: the longest any webhook timeout or deadline may be set to (seconds)
WEBHOOK_SECONDS_MAX = 300.0


def parse_networks(value: str | Iterable[str] | None, name: str) -> tuple[str, ...]:
    """Comma-separated CIDRs (``10.0.0.0/8, 127.0.0.1, fd00::/8``) as normalised strings.

    A bare address is a network of one. Host bits set (``10.0.0.5/8``) are refused, since the
    writer meant either the address or the network, and guessing wrongly opens or closes too much.
    """
    if value is None:
        return ()
    entries = value.split(",") if isinstance(value, str) else list(value)
    networks: list[str] = []
    wrong: list[str] = []
    for entry in entries:
        text = str(entry).strip()
        if not text:
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=True)))
        except ValueError as exc:
            wrong.append(f"{text!r} ({exc})")
    if wrong:
        raise ConfigError(
            f"{name} must list networks in CIDR form separated by commas, e.g. "
            f"'10.20.0.0/16,127.0.0.1/32'; these are not: {', '.join(wrong)}"
        )
    return tuple(networks)


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


#: requests one API token may make: a burst of 20 a second, 300 a minute in all
RATELIMIT_API_DEFAULT = "20 per second;300 per minute"
#: API requests one address may make without a valid token (a token guesser's budget)
RATELIMIT_API_ANONYMOUS_DEFAULT = "30 per minute"


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings read from environment variables, with defaults for everything not secret."""
    env = dict(os.environ if env is None else env)
    default_db = "sqlite:///" + str(Path(instance_path) / "kansa.sqlite3")
    upload_mb = _int(env, "KANSA_MAX_UPLOAD_MB", 20)
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "DATABASE_URL": env.get("DATABASE_URL") or default_db,
        "SQL_ECHO": _bool(env, "KANSA_SQL_ECHO", False),
        # evidence files up to the limit, plus room for the form around them
        "MAX_EVIDENCE_BYTES": upload_mb * 1024 * 1024,
        "MAX_CONTENT_LENGTH": upload_mb * 1024 * 1024 + 64 * 1024,
        "CHECKLISTS_DIR": env.get("KANSA_CHECKLISTS_DIR") or str(ROOT / "checklists"),
        "CHECKLIST_MAX_BYTES": _int(env, "KANSA_CHECKLIST_MAX_KB", 1024) * 1024,
        "SEEDS_DIR": env.get("KANSA_SEEDS_DIR") or str(ROOT / "seeds"),
        # Secure cookies everywhere but local development (KANSA_ENV=development, `make run`)
        "KANSA_ENV": env.get("KANSA_ENV") or "production",
        "SESSION_COOKIE_SECURE": _bool(
            env, "KANSA_SECURE_COOKIES", (env.get("KANSA_ENV") or "production") != "development"
        ),
        "REMEMBER_COOKIE_SECURE": _bool(
            env, "KANSA_SECURE_COOKIES", (env.get("KANSA_ENV") or "production") != "development"
        ),
        # the address people reach Kansa at: absolute links in exports (else the request's host)
        "BASE_URL": (env.get("KANSA_BASE_URL") or "").strip().rstrip("/") or None,
        # behind a reverse proxy: trust one hop of X-Forwarded-For/-Proto/-Host
        "PROXY_FIX": _bool(env, "KANSA_PROXY_FIX", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": _int(env, "KANSA_CSRF_TIME_LIMIT", 8 * 3600),
        "PAGE_SIZE": _int(env, "KANSA_PAGE_SIZE", 25),
        "TIMEZONE": env.get("KANSA_TIMEZONE") or "Asia/Tokyo",
        # one line per request on stderr: JSON lines with KANSA_LOG_JSON=1, else plain text
        "LOG_JSON": _bool(env, "KANSA_LOG_JSON", False),
        "LOG_LEVEL": env.get("KANSA_LOG_LEVEL") or "INFO",
        # tests lower this for speed; production keeps Werkzeug's scrypt
        "PASSWORD_HASH_METHOD": "scrypt",
        # SQLite only: FULL syncs every commit to disk; tests, whose files are thrown away, OFF
        "SQLITE_SYNCHRONOUS": (env.get("KANSA_SQLITE_SYNCHRONOUS") or "FULL").upper(),
        # API rate limits (Flask-Limiter): per token, and per address for requests refused
        # for want of a valid token; counters in memory, or in Redis for several workers
        "RATELIMIT_ENABLED": _bool(env, "KANSA_RATELIMIT_ENABLED", True),
        "RATELIMIT_API": env.get("KANSA_RATELIMIT_API") or RATELIMIT_API_DEFAULT,
        "RATELIMIT_API_ANONYMOUS": env.get("KANSA_RATELIMIT_API_ANONYMOUS")
        or RATELIMIT_API_ANONYMOUS_DEFAULT,
        "RATELIMIT_STORAGE_URI": env.get("KANSA_RATELIMIT_STORAGE_URI") or "memory://",
        "RATELIMIT_KEY_PREFIX": env.get("KANSA_RATELIMIT_KEY_PREFIX") or "kansa",
        # how long an Idempotency-Key and its first answer are kept (hours)
        "IDEMPOTENCY_HOURS": _int(env, "KANSA_IDEMPOTENCY_HOURS", 24),
        # who reads what: "organisation" (everyone everything) or "assigned" (see VISIBILITY)
        "VISIBILITY": (env.get("KANSA_VISIBILITY") or Visibility.ORGANISATION).strip().lower(),
        # webhooks: the internal networks receivers may be on (none: public addresses only);
        # plain http is accepted only in development or to an address in these networks
        "WEBHOOK_ALLOW_PRIVATE": parse_networks(
            env.get("KANSA_WEBHOOK_ALLOW_PRIVATE"), "KANSA_WEBHOOK_ALLOW_PRIVATE"
        ),
        "WEBHOOK_CONNECT_TIMEOUT": _seconds(env, "KANSA_WEBHOOK_CONNECT_TIMEOUT", 5.0),
        "WEBHOOK_READ_TIMEOUT": _seconds(env, "KANSA_WEBHOOK_READ_TIMEOUT", 10.0),
        "WEBHOOK_DEADLINE": _seconds(env, "KANSA_WEBHOOK_DEADLINE", 15.0),
        # threads per worker process, and requests in flight to one receiver (host:port) at once
        "WEBHOOK_THREADS": _int(env, "KANSA_WEBHOOK_THREADS", 8),
        "WEBHOOK_PER_DESTINATION": _int(env, "KANSA_WEBHOOK_PER_DESTINATION", 2),
        # after a secret is rotated, deliveries are signed with the old one too for this long
        "WEBHOOK_SECRET_GRACE_HOURS": _int(env, "KANSA_WEBHOOK_SECRET_GRACE_HOURS", 24),
    }


#: the values of SQLite's ``PRAGMA synchronous`` a deployment may choose
SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
#: the rate-limit storages a deployment may name (Flask-Limiter's ``limits`` schemes)
RATELIMIT_STORAGES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")
#: settings holding a rate limit, by the environment variable that sets them
RATELIMIT_SETTINGS = {
    "RATELIMIT_API": "KANSA_RATELIMIT_API",
    "RATELIMIT_API_ANONYMOUS": "KANSA_RATELIMIT_API_ANONYMOUS",
}


def _check_rate_limits(config: dict[str, Any]) -> None:
    from limits import parse_many

    for setting, variable in RATELIMIT_SETTINGS.items():
        value = config.get(setting)
        try:
            parsed = parse_many(str(value)) if value else []
        except ValueError:
            parsed = []
        if not parsed:
            raise ConfigError(
                f"{variable} is {value!r}: write a rate limit such as '300 per minute' or "
                "'10/second;1000/hour'"
            )
    uri = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    scheme = uri.partition("://")[0]
    if "://" not in uri or scheme not in RATELIMIT_STORAGES:
        raise ConfigError(
            f"KANSA_RATELIMIT_STORAGE_URI is {uri!r}: use memory:// (one process) or a Redis "
            "URL such as redis://127.0.0.1:6379/0 (several workers or machines)"
        )


def check(config: dict[str, Any], debug: bool) -> None:
    """Refuse to start on settings that cannot be right."""
    if not config.get("SECRET_KEY") and not (debug or config.get("TESTING")):
        raise ConfigError(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "value (python -c 'import secrets; print(secrets.token_hex(32))'); "
            "`make run` creates one in instance/secret_key."
        )
    synchronous = config.get("SQLITE_SYNCHRONOUS", "FULL")
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ConfigError(
            f"KANSA_SQLITE_SYNCHRONOUS is {synchronous!r}: it must be one of "
            + ", ".join(SQLITE_SYNCHRONOUS)
        )
    _check_rate_limits(config)
    hours = config.get("IDEMPOTENCY_HOURS", 24)
    if not isinstance(hours, int) or hours < 1:
        raise ConfigError(
            f"KANSA_IDEMPOTENCY_HOURS must be a whole number of hours, 1 or more, got {hours!r}"
        )
    base = config.get("BASE_URL")
    if base and (
        not str(base).startswith(("http://", "https://")) or "?" in str(base) or "#" in str(base)
    ):
        raise ConfigError(
            f"KANSA_BASE_URL is {base!r}: it must be an http:// or https:// address with no "
            "query or fragment, e.g. https://kansa.example.co.jp"
        )
    visibility = config.get("VISIBILITY", Visibility.ORGANISATION)
    if visibility not in values(Visibility):
        raise ConfigError(
            f"KANSA_VISIBILITY is {visibility!r}: it must be one of "
            + ", ".join(values(Visibility))
            + " (organisation: everyone reads everything; assigned: people read what they are"
            " assigned or granted)"
        )
    parse_networks(config.get("WEBHOOK_ALLOW_PRIVATE"), "KANSA_WEBHOOK_ALLOW_PRIVATE")
    for key in ("WEBHOOK_CONNECT_TIMEOUT", "WEBHOOK_READ_TIMEOUT", "WEBHOOK_DEADLINE"):
        seconds = config.get(key, 1.0)
        if not isinstance(seconds, int | float) or not 0 < seconds <= WEBHOOK_SECONDS_MAX:
            raise ConfigError(
                f"KANSA_{key} is {seconds!r}: it must be above 0 and at most "
                f"{WEBHOOK_SECONDS_MAX} seconds"
            )
    for key in ("WEBHOOK_THREADS", "WEBHOOK_PER_DESTINATION"):
        if not 1 <= int(config.get(key, 1)) <= 256:
            raise ConfigError(f"KANSA_{key} is {config.get(key)!r}: it must be 1 to 256")
    if int(config.get("WEBHOOK_SECRET_GRACE_HOURS", 0)) < 0:
        raise ConfigError("KANSA_WEBHOOK_SECRET_GRACE_HOURS must be 0 or more hours")
    url = str(config.get("DATABASE_URL", ""))
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        raise ConfigError(
            "DATABASE_URL must name the psycopg 3 driver: postgresql+psycopg://user@host/db"
        )
