"""``ApiBlueprint``: a flask-smorest Blueprint that authenticates, documents and answers errors.

Every API module under ``audit/api/`` defines ``blp = ApiBlueprint("api_x", __name__, tag="x")``
and is registered by ``audit.api.init_app``. The blueprint then, for every route:

* requires a bearer token (``auth.authenticate``) and the route's scope (``@blp.scope``;
  GET needs ``read``, anything else ``write`` unless declared);
* honours ``Idempotency-Key`` on POST (``idempotency``: a retry gets the first answer);
* turns ``ServiceError`` into the one JSON error shape (``errors.service_error_response``);
* refuses (400) query parameters the route does not declare (``@blp.arguments(...,
  location="query")`` and, with ``@blp.paginate``, ``page`` and ``page_size``), naming every
  one, so a typo such as ``?stat=approved`` is never answered with the unfiltered list;
* gives every paginated list a ``Link`` header (RFC 8288: first, prev, next, last) beside
  ``X-Pagination``;
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
from urllib.parse import urlencode

from flask import current_app, request
from flask_smorest import Blueprint, abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from ..services import ServiceError
from ..vocabulary import TokenScope, values
from . import idempotency, spec
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


#: The attribute on a view function naming the query parameters it declares.
QUERY_ATTR = "_kansa_query"
PAGINATION_QUERY = frozenset({"page", "page_size"})


def _query_names(schema: Any) -> frozenset[str]:
    """The query parameter names a schema (class or instance) reads."""
    instance = schema() if isinstance(schema, type) else schema
    return frozenset(
        field.data_key or name for name, field in instance.fields.items() if not field.dump_only
    )


def _declare_query(func: Any, names: frozenset[str]) -> None:
    setattr(func, QUERY_ATTR, getattr(func, QUERY_ATTR, frozenset()) | names)


def _view_of_request() -> Any:
    """The function that will answer this request (a MethodView's method, or the function)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = "get" if request.method == "HEAD" else request.method.lower()
        return getattr(view_class, method, None)
    return view


def _known_query_only() -> None:
    """400 naming every query parameter the route does not declare (none for most writes)."""
    if not request.args or request.method == "OPTIONS":
        return
    view = _view_of_request()
    if view is None:
        return
    declared: frozenset[str] = getattr(view, QUERY_ATTR, frozenset())
    unknown = [name for name in dict.fromkeys(request.args) if name not in declared]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        accepted = ", ".join(sorted(declared)) or "no query parameters"
        noun = "parameter" if len(unknown) == 1 else "parameters"
        abort(
            400,
            message=f"unknown query {noun} {listed}: this endpoint accepts {accepted}; "
            "nothing was done",
        )


def link_header(page: int, page_size: int, item_count: int) -> str:
    """RFC 8288 links to the first, previous, next and last pages of this list."""
    last = max(1, -(-item_count // page_size))
    targets = {"first": 1}
    if page > 1:
        targets["prev"] = min(page - 1, last)
    if page < last:
        targets["next"] = page + 1
    targets["last"] = last
    args = request.args.to_dict(flat=False)
    links = []
    for rel, number in targets.items():
        query = {**args, "page": [str(number)], "page_size": [str(page_size)]}
        url = request.base_url + "?" + urlencode(query, doseq=True)
        links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


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
        self.before_request(_known_query_only)
        self.before_request(idempotency.before)
        self.after_request(idempotency.after)
        self.teardown_request(idempotency.teardown)
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
        """flask-smorest's ``arguments``, with two additions.

        Query schemas declare the parameters the route accepts (any other is a 400). A required
        JSON body (the default) is required: webargs reads a missing body as ``{}``, so a PATCH
        with no body at all was a 200 that changed nothing although the document says the body
        is required; now a 400.
        """
        decorator = super().arguments(schema, location=location, **kwargs)
        if location == "query":
            names = _query_names(schema)

            def declare(func: Any) -> Any:
                wrapped = decorator(func)
                _declare_query(wrapped, names)
                return wrapped

            return declare
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

    def paginate(self, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's ``paginate``; ``page`` and ``page_size`` become accepted parameters."""
        decorator = super().paginate(*args, **kwargs)

        def declare(func: Any) -> Any:
            wrapped = decorator(func)
            _declare_query(wrapped, PAGINATION_QUERY)
            return wrapped

        return declare

    def _set_pagination_metadata(self, page_params: Any, result: Any, headers: Any) -> Any:
        """X-Pagination as flask-smorest sets it, and the same pages as a ``Link`` header."""
        result, headers = super()._set_pagination_metadata(page_params, result, headers)
        headers["Link"] = link_header(
            page_params.page, page_params.page_size, page_params.item_count or 0
        )
        return result, headers

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
        """Require an If-Match header (428 without one) and document it with 412 and 428.

        A header that is present but empty or malformed is not "missing": it names no copy,
        and the service refuses it (409 if the resource is closed, else 412).
        """

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if "If-Match" not in request.headers:
                abort(
                    428,
                    message="this request must be conditional: send If-Match with the ETag "
                    "of your copy (GET it first); nothing was changed",
                )
            return func(*args, **kwargs)

        return Blueprint.doc(**{spec.IF_MATCH: True})(wrapper)  # type: ignore[no-any-return]
