"""Logging: one line per request (request id, user, status) on stderr, as text or JSON lines.

The ``kansa`` logger hierarchy and Flask's ``app.logger`` share one stderr handler, attached
once per process however many apps are created (tests build hundreds); each ``create_app``
only sets that handler's format (``LOG_JSON``) and the loggers' level (``LOG_LEVEL``), so the
last app built decides, as there is one logging configuration per process. The loggers keep
propagating to the root logger, which has no handler unless the embedder adds one (pytest's
caplog does).

Every request gets an id: the caller's ``X-Request-Id`` when it is a short plain token (so a
proxy's id carries through), else a new one. It is on ``g.request_id`` for the code handling
the request, on every log record emitted meanwhile, and in the ``X-Request-Id`` response header.

The line names the user by id and role, never by e-mail: the e-mail address is personal data,
and logs are kept longer and read more widely than the database; the id identifies the person
to whoever may look them up, and stays right when the address changes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

from flask import (
    Flask,
    Response,
    g,
    got_request_exception,
    has_request_context,
    request,
    request_started,
)
from flask.logging import default_handler
from flask_login import current_user

from .config import ConfigError
from .urls import is_api_request

REQUEST_LOGGER = "kansa.request"
HEADER = "X-Request-Id"
# what a caller's request id may be: no spaces or line breaks, nothing to forge a log line with
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# the request fields of the JSON form (also attributes of the request line's record)
FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "user_id",
    "user_role",
    "token_id",
    "remote_addr",
)
# characters shown as they are in a logged path; anything else (spaces, line breaks, %) is
# percent-encoded, so the path is the URL as sent and cannot break or forge a line
PATH_SAFE = "/!$&'()*+,;=:@~"

log = logging.getLogger(REQUEST_LOGGER)
_lock = threading.Lock()


@dataclass
class _Request:
    """What the request line needs, kept on ``g`` from the start of a request to its end."""

    started: float
    status: int | None = None
    user_id: int | None = None
    user_role: str | None = None
    token_id: int | None = None
    user_known: bool = False
    failed: bool = False  # an exception escaped the view: no more database queries for the log


# ----------------------------------------------------------------------------- formatting


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being handled (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def _utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """``2026-12-01T09:00:00.123Z INFO kansa.request rid=… GET /assessments/3 200 …``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc_time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        rid = f" rid={request_id}" if request_id else ""
        return f"{record.asctime} {record.levelname} {record.name}{rid} {record.message}"

    def usesTime(self) -> bool:
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for field in FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler[TextIO]):
    """A stream handler writing to whatever ``sys.stderr`` is when a record is emitted.

    Holding the stream of the moment the handler was made would keep writing to a stream
    since replaced and closed (by pytest's capture, by a CLI runner).
    """

    kansa = True  # marks Kansa's own handler among a logger's handlers

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


# ----------------------------------------------------------------------------- configuration


def parse_level(value: object) -> int:
    """A level from ``LOG_LEVEL``: a name such as ``INFO`` or ``debug``, or a number."""
    if isinstance(value, int):
        return value
    name = str(value).strip().upper()
    levels = logging.getLevelNamesMapping()
    if name not in levels or name == "NOTSET":
        raise ConfigError(
            f"KANSA_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}"
        )
    return levels[name]


def configure(level: int, json_lines: bool, logger_names: tuple[str, ...] = ()) -> logging.Handler:
    """Give the ``kansa`` loggers (and ``logger_names``) the one stderr handler, and a level.

    Safe to call any number of times: the handler is attached once per logger; its format and
    the level are set anew.
    """
    with _lock:
        handler = _shared_handler()
        handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
        for name in ("kansa", *logger_names):
            logger = logging.getLogger(name)
            if handler not in logger.handlers:
                logger.addHandler(handler)
            if default_handler in logger.handlers:  # Flask's own, added if app.logger came first
                logger.removeHandler(default_handler)
            logger.setLevel(level)
        return handler


def _shared_handler() -> logging.Handler:
    """The handler attached by an earlier call (marked, so a reloaded module finds it too)."""
    for handler in logging.getLogger("kansa").handlers:
        if getattr(handler, "kansa", False):
            return handler
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    return handler


# ----------------------------------------------------------------------------- requests


def init_app(app: Flask) -> None:
    """Configure logging for ``app`` and log every request it answers, with its request id."""
    configure_for(app)
    # signals, so the clock and the id start before any before_request function can refuse
    request_started.connect(_request_started, app)
    got_request_exception.connect(_request_failed, app)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)


def configure_for(app: Flask) -> logging.Handler:
    """Apply ``app``'s ``LOG_LEVEL`` and ``LOG_JSON`` to the process's Kansa loggers."""
    return configure(
        parse_level(app.config.get("LOG_LEVEL", "INFO")),
        bool(app.config.get("LOG_JSON")),
        logger_names=(app.name,),  # app.logger: Flask's error log, in the same format
    )


def current_request_id() -> str | None:
    """The id of the request being handled, or ``None`` outside a request."""
    if not has_request_context():
        return None
    request_id: str | None = g.get("request_id")
    return request_id


def choose_request_id(incoming: str | None) -> str:
    """The caller's id when it is a plain token of at most 64 characters, else a new one."""
    if incoming and REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _request_started(sender: Flask, **extra: Any) -> None:
    g.request_id = choose_request_id(request.headers.get(HEADER))
    g.kansa_request_log = _Request(started=time.perf_counter())


def _request_failed(sender: Flask, exception: BaseException | None = None, **extra: Any) -> None:
    state = g.get("kansa_request_log")
    if state is not None:
        state.status = None  # a status seen before the failure is not the answer any more
        state.failed = True


def _after_request(response: Response) -> Response:
    state = g.get("kansa_request_log")
    if state is None:  # a request that did not start through full dispatch
        state = g.kansa_request_log = _Request(started=time.perf_counter())
    if not g.get("request_id"):
        g.request_id = choose_request_id(request.headers.get(HEADER))
    response.headers[HEADER] = g.request_id
    state.status = response.status_code
    _identify(state, load=not state.failed and request.endpoint != "static")
    return response


def _teardown_request(exc: BaseException | None = None) -> None:
    state = g.pop("kansa_request_log", None)
    if state is None:
        return  # a test_request_context or the like, not a request that was answered
    if not state.user_known:
        _identify(state, load=False)  # no response was made: no queries now
    status = state.status if state.status is not None else 500
    duration_ms = round((time.perf_counter() - state.started) * 1000, 1)
    method = quote(request.method, safe="")
    path = quote(request.script_root + request.path, safe=PATH_SAFE)
    if state.user_id is None:
        user = "-"
    else:
        user = f"{state.user_id}({state.user_role})"
        if state.token_id is not None:
            user += f" token={state.token_id}"
    static = request.endpoint == "static" and status < 400
    log.log(
        logging.DEBUG if static else logging.INFO,
        "%s %s %s %.1fms user=%s",
        method,
        path,
        status,
        duration_ms,
        user,
        extra={
            "request_id": g.get("request_id"),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": state.user_id,
            "user_role": state.user_role,
            "token_id": state.token_id,
            "remote_addr": request.remote_addr,
        },
    )


def _identify(state: _Request, *, load: bool) -> None:
    """Note who made the request: the API token's user, or the signed-in user of a page.

    Under /api/v1 only the bearer token counts (the API ignores the session cookie). With
    ``load`` false nothing is read from the database: only a user already loaded is named.
    """
    user = getattr(g, "api_user", None)
    token = getattr(g, "api_token", None) if user is not None else None
    if user is None and not is_api_request():
        if load:
            user = current_user._get_current_object() if current_user.is_authenticated else None
        else:
            loaded = g.get("_login_user")  # Flask-Login's per-request cache, if it was loaded
            user = loaded if getattr(loaded, "is_authenticated", False) else None
    state.user_id = getattr(user, "id", None) if user is not None else None
    state.user_role = getattr(user, "role", None) if user is not None else None
    state.token_id = getattr(token, "id", None) if token is not None else None
    state.user_known = True
