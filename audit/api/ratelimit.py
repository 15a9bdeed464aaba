"""Rate limits on the API with Flask-Limiter: per token, and per address for failed sign-ins.

Two shared limits, checked by ``auth.authenticate`` for every request under /api/v1:

* **per address** (``RATELIMIT_API_ANONYMOUS``, ``KANSA_RATELIMIT_API_ANONYMOUS``): counts the
  requests from one client address refused with 401 (no token, a malformed header, a wrong,
  expired or revoked token). It is checked *before* the token is looked at, so once an address
  has used it up, nothing it sends is tried until the window passes: guessing tokens stops;
* **per token** (``RATELIMIT_API``, ``KANSA_RATELIMIT_API``): counts every request an
  authenticated token makes, whatever the endpoint, checked right after authentication.

A request over a limit gets 429 in the API's one JSON error shape with ``Retry-After`` (seconds)
and ``X-RateLimit-Limit``/``-Remaining``/``-Reset``, which every API answer carries. The counters
live in memory (one process: the embedded default) or, with ``KANSA_RATELIMIT_STORAGE_URI``
(``redis://host:6379/0``), in Redis, which every worker and machine then shares; while Redis
cannot be reached each process counts in its own memory instead. The web pages
are not limited here: sign-in has its own throttling (``services.users``).

Each application gets a ``Limiter`` of its own (``app.extensions["kansa.limiter"]``), so that
two apps in one process (tests, embedders) never share counters or storage by accident.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from .. import config as settings

EXTENSION = "kansa.limiter"


@dataclass(frozen=True)
class Guards:
    limiter: Limiter
    address: Callable[[], None]
    token: Callable[[], None]


def _address_key() -> str:
    return f"address:{get_remote_address()}"


def _token_key() -> str:
    return f"token:{g.api_token.id}"


def _refused_for_authentication(response: Response) -> bool:
    return response.status_code == 401


def _retry_after(limiter: Limiter) -> int:
    current = limiter.current_limit
    if current is None:
        return 1
    return max(1, math.ceil(current.reset_at - time.time()))


def _message(limiter: Limiter, who: str) -> Callable[[], str]:
    def message() -> str:
        current = limiter.current_limit
        limit = str(current.limit) if current is not None else "the limit"
        return (
            f"too many requests {who} (at most {limit}): wait {_retry_after(limiter)} "
            "seconds (Retry-After) and try again; this request was not processed"
        )

    return message


def _disabled() -> bool:
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def init_app(app: Flask) -> None:
    """Give ``app`` its limiter (settings ``RATELIMIT_*`` from ``config.from_environment``)."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_API", settings.RATELIMIT_API_DEFAULT)
    app.config.setdefault("RATELIMIT_API_ANONYMOUS", settings.RATELIMIT_API_ANONYMOUS_DEFAULT)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "kansa")
    # runs after Flask-Limiter's own after_request (registered later), which puts Retry-After
    # on every answer: keep it on the 429s it means something on
    app.after_request(_retry_after_only_on_429)
    limiter = Limiter(
        key_func=_address_key,
        headers_enabled=True,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        key_prefix=app.config["RATELIMIT_KEY_PREFIX"],
        strategy="fixed-window",
        # Redis unreachable: count in this process's memory (and log it) rather than answer
        # every API request with a 500; back to Redis once it answers again
        in_memory_fallback_enabled=True,
    )
    limiter.request_filter(_disabled)
    limiter.init_app(app)

    @limiter.shared_limit(
        lambda: current_app.config["RATELIMIT_API_ANONYMOUS"],
        scope="api-unauthenticated",
        key_func=_address_key,
        deduct_when=_refused_for_authentication,
        error_message=_message(
            limiter, "without a valid token from this address (missing, wrong or expired)"
        ),
    )
    def address() -> None:
        """Refuse an address that sent too many requests without a valid token."""

    @limiter.shared_limit(
        lambda: current_app.config["RATELIMIT_API"],
        scope="api-token",
        key_func=_token_key,
        error_message=_message(limiter, "with this token"),
    )
    def token() -> None:
        """Count a request of the authenticated token; refuse it over the limit."""

    app.extensions[EXTENSION] = Guards(limiter, address, token)


def _guards() -> Guards | None:
    guards: Guards | None = current_app.extensions.get(EXTENSION)
    return guards


def check_address() -> None:
    """Before authentication: 429 if this address has sent too many bad or missing tokens."""
    guards = _guards()
    if guards is not None:
        guards.address()


def check_token() -> None:
    """After authentication: 429 if the token has made too many requests in the window."""
    guards = _guards()
    if guards is not None:
        guards.token()


def reset(app: Flask) -> None:
    """Forget every counter of ``app``'s limiter (tests sharing one app between them)."""
    guards: Guards | None = app.extensions.get(EXTENSION)
    if guards is not None and guards.limiter.initialized:
        guards.limiter.reset()


def _retry_after_only_on_429(response: Response) -> Response:
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)
    elif "Retry-After" in response.headers:
        # never "0" at a window's edge: a client waiting 0 s would be refused again
        value = response.headers["Retry-After"]
        if value.isdigit() and int(value) < 1:
            response.headers["Retry-After"] = "1"
    return response
