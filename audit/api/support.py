"""Helpers the API views share: ETags from revisions, If-Match checks and pagination."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import abort
from flask_smorest.pagination import PaginationParameters
from sqlmodel import func, select
from werkzeug.http import quote_etag

from ..extensions import db
from ..models import Assessment


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


def expected_revision(assessment: Assessment) -> int:
    """The revision the client's If-Match names; 412 when it is not the current one.

    The revision is then handed to the service, whose compare-and-set refuses the write if
    someone else saves in between (also 412): a stale client never overwrites anything.
    """
    tag = etag_value(assessment)
    if request.if_match.star_tag or request.if_match.contains(tag):
        return assessment.revision
    sent = ", ".join(request.if_match.as_set()) or "(none usable)"
    abort(
        412,
        message=f"your copy of assessment {assessment.id} is out of date (If-Match {sent}, "
        f'current ETag "{tag}"): GET it again and re-apply your change; nothing was changed',
    )


def page(statement: Any, pagination: PaginationParameters) -> list[Any]:
    """One page of a SELECT (two queries: count and rows); sets the X-Pagination total."""
    session = db.session
    counted = statement.order_by(None).subquery()
    pagination.item_count = session.exec(select(func.count()).select_from(counted)).one()
    if pagination.first_item >= pagination.item_count:
        # past the last page: nothing to fetch, and no OFFSET too large for the database
        return []
    rows = session.exec(statement.limit(pagination.page_size).offset(pagination.first_item))
    return list(rows.all())
