"""One JSON error shape for everything under /api/v1, whatever raised it.

``{"code": 404, "status": "Not Found", "message": "...", "errors": {...}, "problems": [...]}``:
``errors`` (field -> messages) only on 422, ``problems`` only when an assessment is not ready
to submit (409). Web pages keep their HTML error pages: every handler here first asks whether
the request is for the API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Blueprint, Flask, Response, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ..services import ServiceError

API_PREFIX = "/api/v1"


class ProblemSchema(ma.Schema):
    ref = ma.fields.String(metadata={"description": "Item ref, e.g. SO-2.3"})
    kind = ma.fields.String(metadata={"description": "unanswered | comment_required"})
    message = ma.fields.String()


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "422 only: messages by field (dotted path for nested input)"},
    )
    problems = ma.fields.List(
        ma.fields.Nested(ProblemSchema),
        metadata={"description": "409 on submit only: what still keeps it from submission"},
    )


def is_api_request() -> bool:
    """Whether the current request is for the REST API (by path, so unknown URLs count too)."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def error_response(
    code: int,
    message: str,
    *,
    errors: Mapping[str, list[str]] | None = None,
    problems: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON error response in the one shape."""
    body: dict[str, Any] = {"code": code, "status": _status_name(code), "message": message}
    if errors:
        body["errors"] = dict(errors)
    if problems is not None:
        body["problems"] = problems
    response = jsonify(body)
    response.status_code = code
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _status_name(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def flatten_messages(messages: Any, path: str = "") -> dict[str, list[str]]:
    """marshmallow/webargs messages as ``{"field.sub.0": [messages]}``; ``_schema`` is ``body``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "body" if key == "_schema" and not path else str(key)
            if key == "_schema" and path:
                name = ""
            child = f"{path}.{name}" if path and name else (name or path)
            for field, texts in flatten_messages(value, child).items():
                flat.setdefault(field, []).extend(texts)
    elif isinstance(messages, list | tuple):
        texts = [m for m in messages if isinstance(m, str)]
        if texts:
            flat.setdefault(path or "body", []).extend(texts)
        for index, value in enumerate(messages):
            if not isinstance(value, str):
                for field, more in flatten_messages(value, f"{path}.{index}").items():
                    flat.setdefault(field, []).extend(more)
    elif messages is not None:
        flat.setdefault(path or "body", []).append(str(messages))
    return flat


def _strip_location(messages: Any) -> Any:
    """Drop webargs' location level (``{"json": {...}}``) when there is only one location."""
    locations = ("json", "query", "querystring", "form", "files", "headers", "view_args")
    if isinstance(messages, Mapping) and messages and set(messages) <= set(locations):
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, Mapping):
                merged.update(value)
            else:
                merged.setdefault("_schema", [])
                merged["_schema"] = [*merged["_schema"], *flatten_messages(value).get("body", [])]
        return merged
    return messages


def http_error_response(error: HTTPException) -> Response:
    """The JSON form of a werkzeug/webargs HTTP error."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message")
    raw = data.get("errors", data.get("messages"))
    errors = flatten_messages(_strip_location(raw)) if raw else {}
    if code == 422:
        if not message:
            fields = ", ".join(sorted(errors)) or "the request"
            message = f"invalid input: check {fields}"
    elif errors and not message:
        message = " ".join(text for texts in errors.values() for text in texts)
    if code >= 500:
        message = message or "internal error: nothing was saved; the error has been logged"
    message = message or error.description or _status_name(code)
    headers = {
        key: value
        for key, value in error.get_headers()
        if key.lower() not in ("content-type", "content-length")
    }
    headers.update(data.get("headers") or {})
    return error_response(code, message, errors=errors if code == 422 else None, headers=headers)


def service_error_response(exc: ServiceError) -> Response:
    """A service refusal: a field named on a 400/422 becomes a 422 with ``errors``."""
    from ..extensions import db

    db.session.rollback()
    status = exc.status
    errors = None
    if exc.field is not None and status in (400, 422):
        # an empty field name (an answer for ref "") still names the input: 422, not 400
        status = 422
        errors = {exc.field or "body": [exc.message]}
    problems = None
    if getattr(exc, "problems", None) is not None:
        problems = [p.as_dict() for p in exc.problems]
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return error_response(status, exc.message, errors=errors, problems=problems, headers=headers)


class KansaApi(Api):
    """flask-smorest's Api with Kansa's error shape and one tag per blueprint."""

    ERROR_SCHEMA = ErrorSchema

    def _register_pagination_header(self) -> None:
        """Document X-Pagination as what it is: a JSON object in the header value.

        flask-smorest documents it with a bare ``schema``, which in OpenAPI 3 means the
        ``simple`` style (``total,3,page,1``); the header actually carries JSON, so it is
        described with ``content: application/json`` instead.
        """
        from flask_smorest.pagination import PaginationMetadataSchema

        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata (JSON)",
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )

    def handle_http_exception(self, error: HTTPException) -> Any:
        """JSON under /api/v1; elsewhere werkzeug's own response, as before the API existed."""
        if not is_api_request():
            return error
        return http_error_response(error)

    def register_blueprint(self, blp: Blueprint, *, parameters: Any = None, **options: Any) -> None:
        """Register a blueprint and document it under its ``tag`` (not its Flask name)."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        blp.register_views_in_doc(self, self._app, self.spec, name=name, parameters=parameters)
        tag = getattr(blp, "tag", name)
        known = self.spec.__dict__.setdefault("_kansa_tags", set())
        if tag not in known:
            known.add(tag)
            self.spec.tag({"name": tag, "description": blp.description})


def claim_app_error_handlers(app: Flask) -> None:
    """Make the app's HTML error handlers (403, 404, 413...) answer JSON under /api/v1.

    Flask prefers a handler registered for a status code over one for ``HTTPException``, and
    routing errors (an unknown URL) belong to no blueprint, so the web pages' handlers would
    otherwise answer API clients with HTML.
    """
    for code, handlers in app.error_handler_spec[None].items():
        if code is None:
            continue
        for exc_class, handler in list(handlers.items()):
            if not getattr(handler, "_kansa_api_aware", False):
                handlers[exc_class] = _api_first(handler)


def _api_first(handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(handler)
    def wrapped(error: Any) -> Any:
        if is_api_request() and isinstance(error, HTTPException):
            return http_error_response(error)
        return handler(error)

    wrapped._kansa_api_aware = True  # type: ignore[attr-defined]
    return wrapped
