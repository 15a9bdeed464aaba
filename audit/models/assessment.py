"""An assessment of one subcontractor against one pinned checklist version, and what it holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..limits import FILE_NAME_MAX, OWNER_MAX, TITLE_MAX
from ..policies import accepts_changes
from ..vocabulary import AnswerStatus, AssessmentState, FindingStatus, Severity
from .base import created_column, json_column, one_of, revision_column, timestamp, utcnow


class Assessment(SQLModel, table=True):
    __tablename__ = "assessment"
    __table_args__ = (
        one_of("state", AssessmentState, "state"),
        sa.CheckConstraint("revision >= 1", name="revision_positive"),
        sa.CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start",
            name="period_dates",
        ),
        sa.Index(None, "state", "due_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subcontractor_id: int = Field(foreign_key="subcontractor.id", index=True)
    checklist_version_id: int = Field(foreign_key="checklist_version.id", index=True)
    title: str = Field(max_length=TITLE_MAX)
    state: str = Field(default=AssessmentState.DRAFT, max_length=16)
    period_start: date | None = None
    period_end: date | None = None
    due_date: date | None = None
    reviewer_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    revision: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    submitted_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    approved_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    review_comment: str | None = Field(default=None, sa_column=sa.Column(sa.Text()))
    # score, rating, caps and section scores as stored at submission and at approval
    score_snapshot: dict[str, Any] | None = Field(default=None, sa_column=json_column())

    @property
    def editable(self) -> bool:
        """Whether its answers, evidence and particulars may still change (``accepts_changes``)."""
        return accepts_changes(self.state)


class AssessmentAuditor(SQLModel, table=True):
    """The auditors assigned to an assessment."""

    __tablename__ = "assessment_auditor"

    assessment_id: int = Field(foreign_key="assessment.id", primary_key=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", primary_key=True, index=True)


class Answer(SQLModel, table=True):
    __tablename__ = "answer"
    __table_args__ = (
        sa.UniqueConstraint("assessment_id", "item_id"),
        one_of("status", AnswerStatus, "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    item_id: int = Field(foreign_key="checklist_item.id", index=True)
    status: str = Field(max_length=16)
    comment: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False, default=""))
    answered_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    answered_at: datetime = Field(default_factory=utcnow, sa_column=created_column())


class Evidence(SQLModel, table=True):
    """An evidence file's metadata; its bytes live in ``evidence_blob``, loaded only to download."""

    __tablename__ = "evidence"
    __table_args__ = (
        sa.CheckConstraint("size >= 0", name="size_positive"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    item_id: int | None = Field(default=None, foreign_key="checklist_item.id", index=True)
    filename: str = Field(max_length=FILE_NAME_MAX)
    content_type: str = Field(max_length=127)
    size: int
    sha256: str = Field(max_length=64, index=True)
    uploaded_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=created_column())


class EvidenceBlob(SQLModel, table=True):
    __tablename__ = "evidence_blob"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, ondelete="CASCADE")
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))


class Finding(SQLModel, table=True):
    """A gap found by an answer; what auditors write on it survives answer changes."""

    __tablename__ = "finding"
    __table_args__ = (
        sa.UniqueConstraint("assessment_id", "item_id"),
        one_of("severity", Severity, "severity"),
        one_of("status", FindingStatus, "status"),
        sa.Index(None, "status", "due_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    item_id: int = Field(foreign_key="checklist_item.id")
    severity: str = Field(max_length=16)
    title: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    # False once the answer no longer shows the gap; kept so the plan is not lost
    current: bool = Field(default=True)
    status: str = Field(default=FindingStatus.OPEN, max_length=16)
    remediation_plan: str = Field(
        default="", sa_column=sa.Column(sa.Text(), nullable=False, default="")
    )
    owner: str = Field(default="", max_length=OWNER_MAX)
    due_date: date | None = None
    # moved on by every change (the remediation fields, or the answer that made it): its ETag
    revision: int = Field(default=1, sa_column=revision_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=created_column())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
