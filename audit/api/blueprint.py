"""``ApiBlueprint``: a flask-smorest Blueprint that authenticates, documents and answers errors.

Every API module under ``audit/api/`` defines ``blp = ApiBlueprint("api_x", __name__, tag="x")``
and is registered by ``audit.api.init_app``. The blueprint then, for every route:

* requires a bearer token (``auth.authenticate``) and the route's scope (``@blp.scope``;
  GET needs ``read``, anything else ``write`` unless declared);
* turns ``ServiceError`` into the one JSON error shape (``errors.service_error_response``);
* documents, through the public ``Blueprint.doc`` and the ``spec.KansaDocs`` plugin, the
  scope, the errors listed with ``@blp.errors(...)`` and, with ``@blp.if_match``, the If-Match
  header with 412 and 428;
* gives every operation an ``operationId`` (``spec.operation_id``, unless the view sets one with
  ``@blp.doc(operationId=...)``), through flask-smorest's ``_store_endpoint_docs``, the one place
  a route's documentation passes with its view's name (a private hook: check it on upgrades;
  ``tests/api/test_openapi_document.py`` fails if ids go missing);
* answers 400 when a required JSON body (``@blp.arguments``, the default) is left out.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import request
from flask_smorest import Blueprint, abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from ..services import ServiceError
from ..vocabulary import TokenScope, values
from . import spec
from .auth import authenticate
from .errors import API_PREFIX, service_error_response

F = TypeVar("F", bound=Callable[..., Any])


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding") == "chunked"


def _unstorable_text(value: Any, path: str = "") -> str | None:
    """The dotted path of the first text (value or key) no database can store, else None.

    A NUL character (PostgreSQL's text refuses it) or a lone surrogate, which JSON's
    ``\\ud800`` escapes can produce but UTF-8 cannot encode.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = _unstorable_text(key, where) or _unstorable_text(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


class ApiParser(FlaskParser):
    """webargs' Flask parser that refuses a body of the wrong media type with 415.

    It also refuses (422) text that no database can store: NUL characters and lone surrogates.
    """

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        data = super().parse(*args, **kwargs)
        where = _unstorable_text(data)
        if where is not None:
            abort(
                422,
                message=f"invalid input: {where} contains a NUL character or invalid Unicode",
                errors={where: ["must not contain NUL characters or invalid Unicode"]},
            )
        return data

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            if _has_body():
                abort(415, message="send the request body as application/json")
            return core.missing
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            abort(400, message="the JSON body is nested too deeply")

    def load_files(self, req: Any, schema: Any) -> Any:
        """Files of a multipart body; any other media type is a 415, another part a 422."""
        if req.mimetype != "multipart/form-data":
            abort(415, message="send the file as multipart/form-data")
        unknown = sorted((set(req.form) | set(req.files)) - set(schema.fields))
        if unknown:
            abort(
                422,
                message=f"unknown form fields: {', '.join(unknown)}; nothing was saved",
                errors={name: ["unknown field"] for name in unknown},
            )
        return super().load_files(req, schema)


# Ids are INTEGER columns: 32-bit on PostgreSQL. A larger id in a URL names nothing (404), and
# must not reach the database, where SQLite cannot even bind one over 64 bits (a 500).
MAX_ID = 2**31 - 1


def _ids_in_range() -> None:
    """404 for a value in the URL that no row can have: an id out of range, text with NUL."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            abort(404, message=f"no such {name.removesuffix('_id')}: {value} is out of range")
        if isinstance(value, str) and "\x00" in value:
            abort(404, message=f"no such {name}: it contains a NUL character")


class ApiBlueprint(Blueprint):
    """A blueprint of the REST API, mounted under /api/v1."""

    ARGUMENTS_PARSER = ApiParser()
    PAGINATION_ARGUMENTS_PARSER = ApiParser()
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 25, "max_page_size": 100}

    def __init__(self, name: str, import_name: str, *, tag: str, description: str = "") -> None:
        super().__init__(name, import_name, url_prefix=API_PREFIX, description=description)
        self.tag = tag
        self.before_request(authenticate)
        self.before_request(_ids_in_range)
        self.register_error_handler(ServiceError, service_error_response)

    def add_url_rule(  # type: ignore[no-untyped-def]  # noqa: ANN201 - flask-smorest's signature
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Any = None,
        provide_automatic_options: bool | None = None,
        *,
        parameters: Any = None,
        tags: list[str] | None = None,
        **options: Any,
    ):
        """Register a route documented under this blueprint's tag."""
        return super().add_url_rule(
            rule,
            endpoint,
            view_func,
            provide_automatic_options,
            parameters=parameters,
            tags=tags or [self.tag],
            **options,
        )

    def _store_endpoint_docs(
        self, endpoint: str, obj: Any, parameters: Any, tags: Any, **options: Any
    ) -> None:
        """Store the route's documentation with an ``operationId`` for each of its methods.

        The id is ``spec.operation_id`` of the view's name, unless the view declared its own
        with ``@blp.doc(operationId=...)``.
        """
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        for method, doc in self._docs[endpoint].items():
            if method == "parameters" or not isinstance(doc, dict):
                continue
            manual = doc.setdefault("manual_doc", {})
            manual.setdefault("operationId", spec.operation_id(method, obj.__name__, self.tag, doc))

    # -------------------------------------------------------------------------- decorators

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """flask-smorest's ``arguments``, and a required JSON body (the default) is required.

        webargs reads a missing body as ``{}``, so a PATCH with no body at all was a 200 that
        changed nothing although the document says the body is required: now a 400.
        """
        decorator = super().arguments(schema, location=location, **kwargs)
        if location != "json" or not kwargs.get("required", True):
            return decorator

        def wrap(func: F) -> F:
            parsed = decorator(func)

            @functools.wraps(parsed)
            def wrapper(*args: Any, **kw: Any) -> Any:
                if not _has_body():
                    abort(400, message="send the request body as JSON; nothing was changed")
                return parsed(*args, **kw)

            return wrapper  # type: ignore[return-value]

        return wrap

    @staticmethod
    def scope(required: str) -> Callable[[F], F]:
        """Declare the token scope an operation needs (default: read for GET, else write)."""
        if required not in values(TokenScope):
            raise ValueError(f"unknown scope {required!r}")

        def decorator(func: F) -> F:
            func._kansa_scope = required  # type: ignore[attr-defined]
            return Blueprint.doc(**{spec.SCOPE: required})(func)  # type: ignore[no-any-return]

        return decorator

    @staticmethod
    def errors(*codes: int) -> Callable[[F], F]:
        """Document the error responses an operation may give besides 401 and 403."""
        return Blueprint.doc(**{spec.ERRORS: {str(code): True for code in codes}})  # type: ignore[no-any-return]

    @staticmethod
    def returns_etag(func: F) -> F:
        """Document the ETag header on the success response (the view sets it)."""
        return Blueprint.doc(**{spec.ETAG: True})(func)  # type: ignore[no-any-return]

    @staticmethod
    def if_match(func: F) -> F:
        """Require an If-Match header (428 without one) and document it with 412 and 428."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not request.if_match:
                abort(
                    428,
                    message="this request must be conditional: send If-Match with the ETag "
                    "of your copy (GET it first); nothing was changed",
                )
            return func(*args, **kwargs)

        return Blueprint.doc(**{spec.IF_MATCH: True})(wrapper)  # type: ignore[no-any-return]
