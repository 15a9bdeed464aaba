"""One JSON error shape for everything under /api/v1, whatever raised it.

``{"code": 404, "status": "Not Found", "message": "...", "errors": {...}, "problems": [...]}``:
``errors`` (field -> messages) only on 422, ``problems`` on a 409 that names what is in the way
(an assessment not ready to submit, a name already taken). Web pages keep their HTML error
pages: ``json_error_for`` answers only requests for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from ..services import ServiceError
from ..urls import API_PREFIX, is_api_request

__all__ = ["API_PREFIX", "is_api_request"]


class ProblemSchema(ma.Schema):
    field = ma.fields.String(metadata={"description": "The field or item ref it concerns"})
    ref = ma.fields.String(metadata={"description": "Item ref, e.g. SO-2.3 (item problems only)"})
    kind = ma.fields.String(
        metadata={"description": "unanswered | comment_required | reviewer_missing | taken"}
    )
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
        metadata={"description": "409 only: what is in the way (submission, a name taken)"},
    )


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
    """A service refusal: its status, ``errors`` by field on a 422, ``problems`` on a 409."""
    from ..extensions import db

    db.session.rollback()
    errors = None
    if exc.status == 422:
        # an empty field name (an answer for ref "") still names the input
        grouped = exc.by_field()
        errors = {field or "body": messages for field, messages in grouped.items()} or {
            "body": [exc.message]
        }
    problems = None
    if exc.status == 409 and exc.problems:
        problems = [p.as_dict() for p in exc.problems]
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if exc.status == 401 else None
    return error_response(
        exc.status, exc.message, errors=errors, problems=problems, headers=headers
    )


def json_error_for(error: Exception) -> Response | None:
    """The API's JSON answer to an error raised while serving an API request, else None.

    The web pages' error handlers ask this first, so that an API client never gets HTML (an
    unknown URL under /api/v1 belongs to no blueprint, and a handler for a status code wins
    over one for ``HTTPException``).
    """
    if not is_api_request():
        return None
    if isinstance(error, ServiceError):
        return service_error_response(error)
    if isinstance(error, HTTPException):
        return http_error_response(error)
    return None
