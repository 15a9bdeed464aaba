"""Checklists and their immutable published versions, with sections and items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .base import created_column, json_column, utcnow


class Checklist(SQLModel, table=True):
    __tablename__ = "checklist"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    title_en: str = Field(max_length=200)
    title_ja: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())


class ChecklistVersion(SQLModel, table=True):
    """A published version: canonical ``content`` and its SHA-256 ``content_hash``."""

    __tablename__ = "checklist_version"
    __table_args__ = (
        sa.UniqueConstraint("checklist_id", "version"),
        sa.CheckConstraint("length(content_hash) = 64", name="content_hash_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    checklist_id: int = Field(foreign_key="checklist.id", index=True)
    version: str = Field(max_length=32)
    # zero-padded MAJOR.MINOR.PATCH so that ORDER BY gives semantic order
    sort_key: str = Field(max_length=32)
    title_en: str = Field(max_length=200)
    title_ja: str | None = Field(default=None, max_length=200)
    effective_date: str | None = Field(default=None, max_length=10)
    item_count: int
    content: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    content_hash: str = Field(max_length=64, unique=True)
    source: str = Field(max_length=300)
    published_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    published_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL"
    )


class ChecklistSection(SQLModel, table=True):
    __tablename__ = "checklist_section"
    __table_args__ = (sa.UniqueConstraint("version_id", "ref"),)

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="checklist_version.id", index=True)
    ref: str = Field(max_length=32)
    position: int
    title_en: str = Field(max_length=300)
    title_ja: str | None = Field(default=None, max_length=300)


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_item"
    __table_args__ = (
        sa.UniqueConstraint("version_id", "ref"),
        sa.CheckConstraint("weight BETWEEN 1 AND 5", name="weight_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="checklist_version.id", index=True)
    section_id: int = Field(foreign_key="checklist_section.id", index=True)
    ref: str = Field(max_length=32)
    position: int
    question_en: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    question_ja: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    guidance_en: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    guidance_ja: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    weight: int
    critical: bool = Field(default=False)
    subject: str = Field(max_length=20)
    answers: list[str] = Field(sa_column=json_column(nullable=False))
    references: dict[str, list[str]] = Field(sa_column=json_column(nullable=False))
