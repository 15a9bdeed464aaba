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
            for code in sorted(codes):
                if code not in responses and str(code) not in responses:
                    responses[code] = HTTPStatus(code).name
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


class KansaApi(Api):
    """flask-smorest's Api with Kansa's one JSON error shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        """JSON under /api/v1; elsewhere werkzeug's own response, as before the API existed."""
        if not is_api_request():
            return error
        return http_error_response(error)

    def document_pagination(self) -> None:
        """Make sure the schema the X-Pagination header is documented with is a component."""
        if PAGINATION_SCHEMA not in self.spec.components.schemas:
            self.spec.components.schema(PAGINATION_SCHEMA, schema=PaginationMetadataSchema)


api = KansaApi(spec_kwargs={"extra_plugins": [KansaDocs()]})
