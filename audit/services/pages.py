"""One page of a list, for the pages and the API alike: two queries, whatever the rows.

Also what every list shares: when a row last changed (``last_change``), for incremental sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from ..models import UTCDateTime

#: The last page number anyone may ask for (beyond it a list is empty anyway).
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, its number, its size and how many rows there are in all."""

    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def text_in(q: str, *columns: Any) -> Any:
    """SQL condition: ``q`` is in any of these columns, in any case (``%`` and ``_`` as typed)."""
    return sa.or_(*(col(column).icontains(q, autoescape=True) for column in columns))


def last_change(model: Any) -> Any:
    """SQL for when a row last changed: its ``updated_at``, or ``created_at`` if never since.

    What ``updated_since`` filters on and ``sort=updated_at`` orders by, for incremental sync.
    """
    return sa.func.coalesce(col(model.updated_at), col(model.created_at), type_=UTCDateTime())


def page_of(session: Session, statement: Any, number: int, per_page: int) -> Page:
    """Run ``statement`` (a sorted SELECT) for page ``number`` of ``per_page`` rows.

    A page past the last one is empty without asking the database for it (no OFFSET larger
    than the table); the first page is always read, so a list costs the same number of
    queries whether it is empty or not.
    """
    counted = statement.order_by(None).subquery()
    total = session.execute(sa.select(sa.func.count()).select_from(counted)).scalar_one()
    first = (number - 1) * per_page
    if first and first >= total:
        return Page([], number, per_page, total)
    rows = session.exec(statement.limit(per_page).offset(first)).all()
    return Page(list(rows), number, per_page, total)
