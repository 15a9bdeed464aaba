"""Optimistic concurrency for every mutable row: a ``revision`` counter moved on by each change.

A client (the API through If-Match, a page through a hidden field) hands back the revision its
copy was made from. The service first decides everything else (who may, whether the row is in
a state to accept this, whether the input is valid), then moves the revision on with one
compare-and-set UPDATE: if someone saved in between, no row matches and the request is refused
with ``StaleRevision`` (412) before anything is written.

``expected`` is the revision the client names; ``None`` skips the comparison (``If-Match: *``,
seeding, the command line); ``NO_REVISION`` is a copy that names no revision of this row at all
(another row's ETag, a made-up or malformed tag): it can only be refused, but only after the
service's own checks, so a closed assessment still answers 409 whatever the client sent.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from ..models import rows_affected, table_of, utcnow
from . import StaleRevision

#: The revision a client's copy names when it names none of this row (revisions start at 1).
NO_REVISION = 0


def describe_copy(expected: int | None) -> str:
    """How a refusal names the copy a client sent: its revision, or that it names none."""
    if expected is not None and expected < 1:
        return "your copy names no revision of it"
    return f"yours is revision {expected}"


def bump(
    session: Session,
    row: SQLModel,
    expected: int | None,
    what: str,
    *,
    where: Any = None,
    **changes: Any,
) -> None:
    """Atomically move ``row``'s revision on (and its ``updated_at``), refusing a stale copy.

    ``what`` names the row in the refusal ("assessment 3"). ``changes`` are column values
    written by the same UPDATE (the caller reloads ``row`` to see them); ``where`` is a further
    condition the row must meet (a webhook not deleted meanwhile), refused like a stale copy.
    On refusal the transaction is rolled back, so nothing of the request is saved.
    """
    model = type(row)
    table = table_of(model)
    condition = table.c.id == row.id  # type: ignore[attr-defined]
    if expected is not None:
        condition = sa.and_(condition, table.c.revision == expected)
    if where is not None:
        condition = sa.and_(condition, where)
    now = utcnow()
    values: dict[str, Any] = {**changes, "revision": table.c.revision + 1}
    if "updated_at" in table.c:
        values["updated_at"] = now
    found = session.execute(
        sa.update(table).where(condition).values(**values).returning(table.c.revision)
    ).first()
    if found is None:
        row_id = row.id  # type: ignore[attr-defined]
        session.rollback()
        current = session.get(model, row_id, populate_existing=True)
        saved = getattr(current, "revision", None) if current is not None else "deleted"
        raise StaleRevision(
            f"{what} was changed by someone else, so your copy is out of date "
            f"({describe_copy(expected)}, the saved one is {saved}); nothing was saved",
            "revision",
        )
    row.revision = found[0]
    if "updated_at" in values:
        row.updated_at = now


def delete(session: Session, row: SQLModel, expected: int | None, what: str) -> None:
    """Delete ``row`` if its revision is still ``expected`` (any, when None); else 412."""
    table = table_of(type(row))
    condition = table.c.id == row.id  # type: ignore[attr-defined]
    if expected is not None:
        condition = sa.and_(condition, table.c.revision == expected)
    if rows_affected(session.execute(sa.delete(table).where(condition))) != 1:
        session.rollback()
        raise StaleRevision(
            f"{what} was changed by someone else ({describe_copy(expected)}); nothing was deleted",
            "revision",
        )
    session.expunge(row)
