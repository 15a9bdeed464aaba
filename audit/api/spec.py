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

import re
from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from werkzeug.exceptions import HTTPException

from ..limits import IDEMPOTENCY_KEY_MAX
from .errors import ErrorSchema, http_error_response, is_api_request
from .examples import example_for
from .schemas import REQUIRED

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
#: A list of entity tags (RFC 9110 section 13.1.1) or ``*``.
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"[^"\s]*"(\s*,\s*(W/)?"[^"\s]*")*)\s*$'
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


def operation_id(method: str, view_name: str, tag: str, doc: dict[str, Any]) -> str:
    """A stable camelCase ``operationId`` from the HTTP method, the view's name and its tag.

    A class view of a collection (``Assessments``) gives ``listAssessments`` and
    ``createAssessment``; of one thing (``AssessmentOne``, ``Report``) ``getAssessment``,
    ``updateAssessment``, ``replaceAnswer``, ``deleteAssessment``. A function view is an action
    on its tag's resource: ``submit`` under ``assessments`` is ``submitAssessment``. Where the
    rule reads badly a view names itself with ``@blp.doc(operationId=...)``. Generators name
    client methods after these ids, so they are pinned by ``tests/api/test_openapi_document.py``.
    """
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", view_name)]
    if not view_name[:1].isupper():  # a function view: its name is the action
        return str(words[0]) + _singular(tag.title().replace("-", "").replace("_", ""))
    one = words[-1] == "one"
    if one:
        words = words[:-1]
    noun = "".join(w.title() for w in words)
    if method == "get":
        return ("list" if _is_list(doc) else "get") + noun
    if method == "post" and 201 in doc.get("success_status_codes", []):
        return "create" + _singular(noun)
    verb = {"patch": "update", "put": "replace", "delete": "delete"}.get(method, method)
    return verb + noun


def _is_list(doc: dict[str, Any]) -> bool:
    if doc.get("pagination"):
        return True
    for responses in doc.get("response", {}).get("responses", {}).values():
        for response in responses:
            schema = response.get("schema") if isinstance(response, dict) else None
            if getattr(schema, "many", False):
                return True
    return False


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith("Evidence"):
        return noun
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def default_scope(method: str) -> str:
    """The scope an operation needs unless it declares one: read to look, write to change."""
    return "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write"


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, "parameters": parameters}


ASSESSMENT = {"assessment_id": "$response.body#/id"}
ASSESSMENT_WRITE = {**ASSESSMENT, "header.If-Match": "$response.header.ETag"}
#: OpenAPI links: operationId -> status -> name -> link. What a client naturally does next with
#: what an answer gives it (ids from the body, the ETag for If-Match). Every target must be an
#: operationId of the document (``tests/api/test_openapi_document.py``).
LINKS: dict[str, dict[int, dict[str, dict[str, Any]]]] = {
    "createSubcontractor": {
        201: {
            "getSubcontractor": _link(
                "getSubcontractor",
                "The subcontractor just recorded",
                subcontractor_id="$response.body#/id",
            ),
        }
    },
    "createAssessment": {
        201: {
            "getAssessment": _link("getAssessment", "The draft just created", **ASSESSMENT),
            "getAnswers": _link("getAnswers", "Its answers (none yet)", **ASSESSMENT),
            "updateAnswers": _link("updateAnswers", "Answer its items", **ASSESSMENT_WRITE),
            "listAssessmentEvents": _link("listAssessmentEvents", "Its audit trail", **ASSESSMENT),
        }
    },
    "getAssessment": {
        200: {
            "getAnswers": _link("getAnswers", "Its answers", **ASSESSMENT),
            "getScore": _link("getScore", "Its current score", **ASSESSMENT),
            "listAssessmentEvidence": _link("listAssessmentEvidence", "Its evidence", **ASSESSMENT),
            "listAssessmentEvents": _link("listAssessmentEvents", "Its audit trail", **ASSESSMENT),
            "submitAssessment": _link("submitAssessment", "Submit it", **ASSESSMENT_WRITE),
        }
    },
    "submitAssessment": {
        200: {
            "approveAssessment": _link("approveAssessment", "Approve it", **ASSESSMENT_WRITE),
            "returnAssessment": _link("returnAssessment", "Return it", **ASSESSMENT_WRITE),
        }
    },
    "updateAnswers": {
        200: {
            "submitAssessment": _link(
                "submitAssessment",
                "Submit it once every item is answered",
                assessment_id="$response.body#/assessment_id",
                **{"header.If-Match": "$response.header.ETag"},
            ),
            "getScore": _link(
                "getScore", "The score now", assessment_id="$response.body#/assessment_id"
            ),
        }
    },
    "createAssessmentEvidence": {
        201: {
            "getEvidence": _link(
                "getEvidence", "The file's metadata", evidence_id="$response.body#/id"
            ),
            "downloadEvidence": _link(
                "downloadEvidence", "The file's bytes", evidence_id="$response.body#/id"
            ),
        }
    },
    "listEvents": {
        200: {
            "listEvents": _link(
                "listEvents", "The events that follow (poll with it)", after="$response.body#/next"
            ),
        }
    },
}


def _description(operation: dict[str, Any], method: str, if_match: bool) -> str:
    """The operation's description: its docstring's body, then what every client must send."""
    parts = [operation.get("description") or operation.get("summary") or ""]
    parts.append(f"Needs a bearer token with the `{operation[SCOPE]}` scope (or a wider one).")
    if if_match:
        parts.append(
            "Send `If-Match` with the ETag of your copy (from its GET): without it 428, with a "
            "stale one 412; either way nothing is changed."
        )
    if any(
        isinstance(r, dict) and "X-Pagination" in (r.get("headers") or {})
        for r in operation.get("responses", {}).values()
    ):
        parts.append(
            "Paginated: `page` (from 1) and `page_size` (up to 100); the `X-Pagination` header "
            "holds the totals as JSON."
        )
    return "\n\n".join(p for p in parts if p)


class KansaDocs(BasePlugin):
    """Completes every operation of the document with what Kansa's blueprints promise."""

    def schema_helper(
        self, name: str, definition: dict[str, Any], **kwargs: Any
    ) -> dict[str, Any] | None:
        """Each component schema's example (``examples.EXAMPLES``)."""
        extra: dict[str, Any] = {}
        properties = definition.get("properties") or {}
        # required and never null, although the schema lets it through to the service
        documented = [key for key, prop in properties.items() if prop.pop(REQUIRED, False)]
        for key in documented:
            properties[key].pop("nullable", None)
            properties[key].pop("default", None)
        if documented:
            extra["required"] = sorted({*definition.get("required", []), *documented})
        example = example_for(name, definition)
        if example is not None:
            extra["example"] = example
        return extra or None

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
            if_match = operation.pop(IF_MATCH, False)
            if if_match:
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
                links = LINKS.get(operation.get("operationId", ""), {}).get(int(code))
                if links:
                    response["links"] = links
            operation["description"] = _description(operation, method, if_match)


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
                "description": "A key of your choosing (a UUID, say; 1 to "
                f"{IDEMPOTENCY_KEY_MAX} printable ASCII "
                "characters) that makes a retry safe: the same key with the same request "
                "within 24 hours (KANSA_IDEMPOTENCY_HOURS) answers with the first response "
                "again, marked Idempotent-Replayed: true, instead of creating anything twice. "
                "The same key with another request is a 422; while the first request is still "
                "being processed, a 409. Keys are per user. Only successful answers are kept: "
                "after a refusal the key may be used again.",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX,
                    "pattern": "^[ -~]+$",
                },
                "example": "7d1f3c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b",
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

    def document_if_match(self) -> None:
        """Describe the If-Match header as Kansa reads it: one or more quoted ETags, or ``*``."""
        # flask-smorest registers its own lazily (only once an operation uses it): replace both
        components = self.spec.components
        target = components.parameters if "IF_MATCH" in components.parameters else None
        (target if target is not None else components.parameters_lazy)["IF_MATCH"] = {
            "name": "If-Match",
            "in": "header",
            "required": True,
            "description": "The ETag of your copy exactly as the ETag header gave it (e.g. "
            '"a7-r12", quotes included), several separated by commas, or * for whatever is '
            "stored. Without it 428; naming no current revision 412.",
            "schema": {"type": "string", "minLength": 1, "pattern": IF_MATCH_PATTERN},
            "example": '"a7-r12"',
        }

    def document_pagination(self) -> None:
        """Make sure the schema the X-Pagination header is documented with is a component."""
        if PAGINATION_SCHEMA not in self.spec.components.schemas:
            self.spec.components.schema(PAGINATION_SCHEMA, schema=PaginationMetadataSchema)


api = KansaApi(spec_kwargs={"extra_plugins": [KansaDocs()]})
