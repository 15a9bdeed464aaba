"""The entrusted parties, with their re-entrustment chain."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..limits import CADENCE_MONTHS_MAX, CADENCE_MONTHS_MIN, EMAIL_MAX, LEGAL_NAME_MAX
from ..policies import cadence_months
from ..vocabulary import Tier
from .base import created_column, json_column, revision_column, timestamp, utcnow


class Subcontractor(SQLModel, table=True):
    __tablename__ = "subcontractor"
    __table_args__ = (
        sa.CheckConstraint(f"tier BETWEEN {min(Tier)} AND {max(Tier)}", name="tier_range"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        sa.CheckConstraint(
            "contract_end IS NULL OR contract_start IS NULL OR contract_end >= contract_start",
            name="contract_dates",
        ),
        sa.CheckConstraint(
            "audit_cadence_months IS NULL OR audit_cadence_months BETWEEN "
            f"{CADENCE_MONTHS_MIN} AND {CADENCE_MONTHS_MAX}",
            name="cadence_range",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=LEGAL_NAME_MAX, unique=True)
    country: str = Field(max_length=2, index=True)
    services: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, default=""))
    data_categories: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    tier: int = Field(index=True)
    parent_id: int | None = Field(
        default=None, foreign_key="subcontractor.id", index=True, ondelete="RESTRICT"
    )
    contract_start: date | None = None
    contract_end: date | None = None
    audit_cadence_months: int | None = None
    contact_email: str | None = Field(default=None, max_length=EMAIL_MAX)
    notes: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, default=""))
    # moved on by every change: its ETag
    revision: int = Field(default=1, sa_column=revision_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))

    @property
    def cadence_months(self) -> int:
        """Months between audits: the subcontractor's own cadence, or its tier's default."""
        return cadence_months(self.tier, self.audit_cadence_months)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class ViewerGrant(SQLModel, table=True):
    """A viewer may read a subcontractor (and its chain below it) under ``assigned`` visibility."""

    __tablename__ = "viewer_grant"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    subcontractor_id: int = Field(
        foreign_key="subcontractor.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    granted_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )
    granted_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
