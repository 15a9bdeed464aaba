"""Response hardening for every page: security headers and cookie settings."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, request
from werkzeug.routing import IntegerConverter

from .urls import is_api_request

# No inline script or style anywhere: the pages load kansa.css and assessment.js from /static.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that matches only ids a database column can hold (else the URL is a 404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Add the security headers to every response, and refuse text no database can store."""
    app.url_map.converters["int"] = BoundedIntConverter

    @app.before_request
    def refuse_nul_characters() -> None:
        if request.path.startswith("/static/") or is_api_request():
            return  # the API's parser refuses such text itself, with a 422 naming the field
        values = list(request.args.values())
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += list(request.form.values())
        if any("\x00" in value for value in values):
            abort(400, "Text fields must not contain NUL characters; nothing was saved.")

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"  # pages show audit data: keep them out of caches
        return response


def attachment(data: bytes | str, mimetype: str, filename: str) -> Response:
    """A download that browsers save rather than render: stored name, sandboxed, not cached."""
    from flask import current_app

    response = current_app.response_class(data, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
