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
