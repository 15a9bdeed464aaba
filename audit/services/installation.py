"""This installation's identity: the random namespace its exported identifiers are made in."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session

from ..models import INSTALLATION_ID, Installation


def namespace(session: Session) -> uuid.UUID:
    """The installation's namespace UUID, made (random, once) if the row is missing.

    Migration 0005 makes the row at install time and backups carry it, so this finds it. A
    database whose row was removed gets a new one, written in a transaction of its own and
    committed at once: the identifiers must not change with every export because the request
    that made it only read. Two requests making it at once agree on the first one stored.
    """
    row = session.get(Installation, INSTALLATION_ID)
    if row is not None:
        return uuid.UUID(row.namespace)
    with Session(session.get_bind()) as own:
        own.add(Installation(id=INSTALLATION_ID, namespace=str(uuid.uuid4())))
        try:
            own.commit()
        except sa.exc.IntegrityError:  # another request made it first: use theirs
            own.rollback()
        made = own.get(Installation, INSTALLATION_ID, populate_existing=True)
        assert made is not None  # stored by this transaction or the one that won
        return uuid.UUID(made.namespace)


def uuid_in(space: uuid.UUID, *parts: object) -> str:
    """The UUID 5 of ``parts`` (joined with ``/``) in ``space``, as OSCAL writes it."""
    return str(uuid.uuid5(space, "/".join(str(p) for p in parts)))
