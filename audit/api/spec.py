"""The API object and what Kansa adds to its OpenAPI document, through public extension points.

* ``KansaApi`` is flask-smorest's ``Api`` with Kansa's error shape: ``ERROR_SCHEMA`` and
  ``handle_http_exception``, the two hooks flask-smorest documents for that.
* ``KansaDocs`` is an apispec plugin (flask-smorest's ``extra_plugins`` spec kwarg): for every
  operation it adds the bearer ``security``, the token scope (``x-kansa-scope``), the error
  responses every endpoint can give (400 for an unknown query parameter or a body that cannot
  be parsed, 401, 403; 412 and 428 with If-Match), the ETag header on success, ``Location`` on
  201, and documents ``X-Pagination`` as the JSON it is, with the ``Link`` header beside it.
  The per-operation facts come from the blueprint's decorators through the public ``Blueprint.doc``.
* The document's tags are the blueprints' ``tag`` names, set as the ``tags`` top-level option
  (``API_SPEC_OPTIONS``), which replaces the list flask-smorest builds from Flask names.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from werkzeug.exceptions import HTTPException

from .errors import ErrorSchema, http_error_response, is_api_request

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
#: Vendor keys the blueprint's decorators leave on an operation for ``KansaDocs`` to read.
SCOPE = "x-kansa-scope"
ERRORS = "x-kansa-errors"
ETAG = "x-kansa-etag"
IF_MATCH = "x-kansa-if-match"
PAGINATION_SCHEMA = "PaginationMetadata"
#: components (registered by ``KansaApi.document_guards``) every operation refers to
RATE_LIMITED = "RATE_LIMITED"
IDEMPOTENCY_KEY = "IDEMPOTENCY_KEY"
RATE_HEADERS = {
    "X-RateLimit-Limit": "RATELIMIT_LIMIT",
    "X-RateLimit-Remaining": "RATELIMIT_REMAINING",
    "X-RateLimit-Reset": "RATELIMIT_RESET",
}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
LINK_HEADER = {
    "description": "RFC 8288 links to the first, prev, next and last pages of the list, "
    "with the same filters",
    "schema": {"type": "string"},
    "example": '<https://kansa.example/api/v1/findings?page=2&page_size=25>; rel="next"',
}
LOCATION_HEADER = {
    "description": "The URL of the created resource",
    "schema": {"type": "string", "format": "uri-reference"},
}


def default_scope(method: str) -> str:
    """The scope an operation needs unless it declares one: read to look, write to change."""
    return "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write"


class KansaDocs(BasePlugin):
    """Completes every operation of the document with what Kansa's blueprints promise."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if method not in METHODS:
                continue
            operation["security"] = SECURITY
            operation.setdefault(SCOPE, default_scope(method))
            responses = operation.setdefault("responses", {})
            # 400: a query parameter the operation does not declare (every operation), or a
            # body that cannot be parsed (malformed JSON, invalid UTF-8)
            codes = {400, 401, 403, *(int(c) for c in operation.pop(ERRORS, {}))}
            if operation.pop(IF_MATCH, False):
                codes |= {412, 428}
                parameters = operation.setdefault("parameters", [])
                if "IF_MATCH" not in parameters:
                    parameters.append("IF_MATCH")
            idempotent = method == "post"
            if idempotent:
                codes |= {400, 409, 422}  # a malformed key; a key in flight; reused elsewhere
                parameters = operation.setdefault("parameters", [])
                if IDEMPOTENCY_KEY not in parameters:
                    parameters.append(IDEMPOTENCY_KEY)
            for code in sorted(codes):
                if code not in responses and str(code) not in responses:
                    responses[code] = HTTPStatus(code).name
            responses.setdefault(429, RATE_LIMITED)
            etag = operation.pop(ETAG, False)
            for code, response in responses.items():
                if not isinstance(response, dict):
                    continue
                headers = response.get("headers") or {}
                if headers.get("X-Pagination") == "PAGINATION":
                    # flask-smorest documents it with a bare schema, which in OpenAPI 3 means
                    # the "simple" style (total,3,page,1); the header carries JSON
                    headers["X-Pagination"] = {
                        "description": "Pagination metadata (JSON)",
                        "content": {"application/json": {"schema": PAGINATION_SCHEMA}},
                    }
                    headers["Link"] = LINK_HEADER
                if str(code) == "201":
                    response.setdefault("headers", {})["Location"] = LOCATION_HEADER
                if etag and 200 <= int(code) < 300:
                    response.setdefault("headers", {})["ETag"] = "ETAG"
                if 200 <= int(code) < 300:
                    response.setdefault("headers", {}).update(RATE_HEADERS)
                    if idempotent:
                        response["headers"]["Idempotent-Replayed"] = "IDEMPOTENT_REPLAYED"


class KansaApi(Api):
    """flask-smorest's Api with Kansa's one JSON error shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        """JSON under /api/v1; elsewhere werkzeug's own response, as before the API existed."""
        if not is_api_request():
            return error
        return http_error_response(error)

    def document_guards(self) -> None:
        """The components of Idempotency-Key and of the rate limits (429, X-RateLimit-*)."""
        components = self.spec.components
        if IDEMPOTENCY_KEY in components.parameters:
            return
        components.parameter(
            IDEMPOTENCY_KEY,
            "header",
            {
                "name": "Idempotency-Key",
                "required": False,
                "description": "A key of your choosing (a UUID, say; 1 to 255 printable ASCII "
                "characters) that makes a retry safe: the same key with the same request "
                "within 24 hours (KANSA_IDEMPOTENCY_HOURS) answers with the first response "
                "again, marked Idempotent-Replayed: true, instead of creating anything twice. "
                "The same key with another request is a 422; while the first request is still "
                "being processed, a 409. Keys are per user. Only successful answers are kept: "
                "after a refusal the key may be used again.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
        )
        components.header(
            "IDEMPOTENT_REPLAYED",
            {
                "description": "true when this is the stored answer to an earlier request "
                "with the same Idempotency-Key",
                "schema": {"type": "string", "enum": ["true"]},
            },
        )
        texts = {
            "RATELIMIT_LIMIT": "Requests allowed in the current window",
            "RATELIMIT_REMAINING": "Requests left in the current window",
            "RATELIMIT_RESET": "When the window ends (Unix time, seconds)",
        }
        for name, text in texts.items():
            components.header(name, {"description": text, "schema": {"type": "integer"}})
        components.header(
            "RETRY_AFTER",
            {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}},
        )
        components.response(
            RATE_LIMITED,
            {
                "description": "Too many requests: this token (KANSA_RATELIMIT_API), or this "
                "address without a valid token (KANSA_RATELIMIT_API_ANONYMOUS), is over its "
                "limit; wait Retry-After seconds",
                "content": {"application/json": {"schema": "Error"}},
                "headers": {"Retry-After": "RETRY_AFTER", **RATE_HEADERS},
            },
        )

    def document_pagination(self) -> None:
        """Make sure the schema the X-Pagination header is documented with is a component."""
        if PAGINATION_SCHEMA not in self.spec.components.schemas:
            self.spec.components.schema(PAGINATION_SCHEMA, schema=PaginationMetadataSchema)


api = KansaApi(spec_kwargs={"extra_plugins": [KansaDocs()]})
