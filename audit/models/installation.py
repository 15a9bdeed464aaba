"""This installation of Kansa: the one row its exported identifiers are derived from."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_column, utcnow

#: the primary key of the one row ``installation`` holds
INSTALLATION_ID = 1


class Installation(SQLModel, table=True):
    """One row, made at install time (migration 0005) or on first use if it went missing.

    ``namespace`` is a random UUID: every OSCAL UUID this installation exports is a UUID 5 in
    it, so two installations never give the same identifier to different things, and one
    installation gives the same thing the same identifier in every export. Backups carry it,
    so a restored installation keeps its identifiers.
    """

    __tablename__ = "installation"
    __table_args__ = (sa.CheckConstraint(f"id = {INSTALLATION_ID}", name="one_row"),)

    id: int = Field(
        default=INSTALLATION_ID, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    namespace: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
