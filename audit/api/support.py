"""Helpers the API views share: ETags from revisions, If-Match checks and pagination."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from werkzeug.http import quote_etag

from ..extensions import db
from ..models import Assessment
from ..services.pages import page_of


def etag_value(assessment: Assessment) -> str:
    """The assessment's ETag (unquoted): its id and revision, so any saved change moves it."""
    return f"a{assessment.id}-r{assessment.revision}"


def etag_header(assessment: Assessment) -> dict[str, str]:
    """The ETag response header of an assessment (and of its answers)."""
    return {"ETag": quote_etag(etag_value(assessment))}


def not_modified(assessment: Assessment) -> Response | None:
    """A 304 when If-None-Match already names the current ETag, else None."""
    if request.if_none_match and request.if_none_match.contains_weak(etag_value(assessment)):
        return Response(status=304, headers=etag_header(assessment))
    return None


def expected_revision(assessment: Assessment) -> int | None:
    """The revision the client's If-Match names, for the service to compare and set.

    The service decides, in its order: who may (403), whether the assessment is in a state to
    accept this (409), then whether the client's copy is stale (412), so a page and the API
    refuse the same request the same way. ``*`` names whatever is stored (no comparison). Of
    several tags, the one naming the current revision is taken if listed. If-Match naming no
    revision of this assessment at all (another assessment's ETag, a weak or made-up tag) can
    match nothing: 412 at once, as HTTP has it.
    """
    if request.if_match.star_tag:
        return None
    named = [
        int(match.group(1))
        for tag in request.if_match.as_set()
        if tag is not None and (match := re.fullmatch(rf"a{assessment.id}-r(\d{{1,9}})", tag))
    ]
    if not named:
        sent = ", ".join(t for t in request.if_match.as_set() if t) or "(none usable)"
        abort(
            412,
            message=f"your copy of assessment {assessment.id} is out of date (If-Match {sent}, "
            f'current ETag "{etag_value(assessment)}"): GET it again and re-apply your change; '
            "nothing was saved",
        )
    return assessment.revision if assessment.revision in named else named[0]


def page(statement: Any, pagination: PaginationParameters) -> list[Any]:
    """One page of a service's SELECT (two queries: count and rows); sets the X-Pagination total."""
    found = page_of(db.session, statement, pagination.page, pagination.page_size)
    pagination.item_count = found.total
    return found.items
