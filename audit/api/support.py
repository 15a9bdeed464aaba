"""Helpers the API views share: ETags from revisions, If-Match checks and pagination.

Every mutable resource has a ``revision`` column (``services.revisions``) and an ETag made of
a kind prefix, its id and that revision (``a3-r7`` is assessment 3 at revision 7). A view
hands ``expected_revision(row)`` to its service, which compares and sets it after its own
checks; a GET answers ``etag_header(row)`` and ``not_modified(row)`` for If-None-Match.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request
from flask_smorest.pagination import PaginationParameters
from sqlmodel import SQLModel
from werkzeug.http import quote_etag

from ..extensions import db
from ..services.pages import page_of
from ..services.revisions import NO_REVISION

#: The ETag prefix of each kind of mutable row, by model name. A resource whose writes are
#: conditional adds its model here (it needs an ``id`` and a ``revision`` column).
ETAG_KINDS: dict[str, str] = {
    "Assessment": "a",
    "Finding": "f",
    "Subcontractor": "s",
    "Webhook": "w",
}

# RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E /
# obs-text; If-Match is "*" or a comma-separated list of them (empty elements allowed).
_ETAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_SEPARATOR = re.compile(r"[ \t]*,[ \t]*")


def _kind(row: SQLModel) -> str:
    return ETAG_KINDS[type(row).__name__]


def etag_value(row: SQLModel) -> str:
    """The row's ETag (unquoted): kind, id and revision, so any saved change moves it."""
    return f"{_kind(row)}{row.id}-r{row.revision}"  # type: ignore[attr-defined]


def etag_header(row: SQLModel) -> dict[str, str]:
    """The ETag response header of a row (for an assessment, also of its answers)."""
    return {"ETag": quote_etag(etag_value(row))}


def not_modified(row: SQLModel) -> Response | None:
    """A 304 when If-None-Match already names the current ETag, else None."""
    if request.if_none_match and request.if_none_match.contains_weak(etag_value(row)):
        return Response(status=304, headers=etag_header(row))
    return None


def if_match_tags() -> list[str] | None:
    """The strong entity tags the If-Match header(s) list; None for ``*``.

    Anything that is not RFC 9110's syntax (an unquoted or unterminated tag, a ``*`` inside a
    list, an empty header) lists no tag, and weak tags never match If-Match (strong
    comparison), so such a header can match nothing.
    """
    raw = ", ".join(request.headers.getlist("If-Match")).strip()
    if raw == "*":
        return None
    tags: list[str] = []
    position, after_tag = 0, False
    while position < len(raw):
        separator = _SEPARATOR.match(raw, position)
        if separator is not None:
            position, after_tag = separator.end(), False
            continue
        tag = None if after_tag else _ETAG.match(raw, position)
        if tag is None:
            return []  # malformed: nothing in it can be trusted to name a copy
        if not tag.group(1):
            tags.append(tag.group(2))
        position, after_tag = tag.end(), True
    return tags


def expected_revision(row: SQLModel) -> int | None:
    """The revision the client's If-Match names, for the service to compare and set.

    The service decides, in its order: who may (403), whether the row is in a state to
    accept this (409), whether the input is valid (422), then whether the client's copy is
    stale (412), so a page and the API refuse the same request the same way. ``*`` names
    whatever is stored (None: no comparison). Of several tags, the one naming the current
    revision is taken if listed. If-Match naming no revision of this row at all (another row's
    ETag, a weak, empty, made-up or malformed tag) gives ``NO_REVISION``, which the service's
    compare-and-set refuses with 412 once its own checks have passed.
    """
    tags = if_match_tags()
    if tags is None:
        return None
    pattern = re.compile(rf"{_kind(row)}{row.id}-r(\d{{1,9}})")  # type: ignore[attr-defined]
    named = [int(match.group(1)) for tag in tags if (match := pattern.fullmatch(tag))]
    if not named:
        return NO_REVISION
    current = row.revision  # type: ignore[attr-defined]
    return current if current in named else named[0]


def page(statement: Any, pagination: PaginationParameters) -> list[Any]:
    """One page of a service's SELECT (two queries: count and rows); sets the X-Pagination total."""
    found = page_of(db.session, statement, pagination.page, pagination.page_size)
    pagination.item_count = found.total
    return found.items
