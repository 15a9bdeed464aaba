"""Rendered PDF reports of approved assessments, kept by the hash of what went into them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_column, utcnow


class ReportCache(SQLModel, table=True):
    """A PDF rendered once: ``content_hash`` is the SHA-256 of every input to the report."""

    __tablename__ = "report_cache"
    __table_args__ = (sa.CheckConstraint("length(content_hash) = 64", name="hash_length"),)

    content_hash: str = Field(primary_key=True, max_length=64)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    lang: str = Field(max_length=2)
    pdf: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    size: int
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
