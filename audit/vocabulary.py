"""Kansa's vocabularies: every fixed set of words the application uses, each in one enum.

Database CHECK constraints (``models``), marshmallow ``OneOf`` (``api.schemas``), form choices
(``web``), the checklist file format (``checklists``), the scoring rules (``rules``) and the
templates are all built from these, so a word is added or renamed in one place. The members
are ``StrEnum``: each compares equal to its stored text (``AnswerStatus.PARTIAL == "partial"``)
and serialises to it in JSON and SQL.

The order of members is meaningful where a docstring says so (severities most severe first,
ratings best first, token scopes narrowest first); the CHECK constraints list them in that order.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class AssessmentState(StrEnum):
    """Where an assessment stands in the review workflow."""

    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class AnswerStatus(StrEnum):
    """An auditor's answer to one checklist item."""

    COMPLIANT = "compliant"
    PARTIAL = "partial"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"


#: The answers that carry points (``not_applicable`` leaves an item out of the score).
SCORED_ANSWERS = (AnswerStatus.COMPLIANT, AnswerStatus.PARTIAL, AnswerStatus.NON_COMPLIANT)


class ItemState(StrEnum):
    """What the scoring rules see for one item: its answer, or that it has none yet."""

    COMPLIANT = "compliant"
    PARTIAL = "partial"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"
    UNANSWERED = "unanswered"


class Rating(StrEnum):
    """The rating of an assessment, best first; E is below the last band."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"


class Severity(StrEnum):
    """How serious a finding is, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingStatus(StrEnum):
    """Where the remediation of a finding stands."""

    OPEN = "open"
    IN_REMEDIATION = "in_remediation"
    CLOSED = "closed"
    RISK_ACCEPTED = "risk_accepted"


class Role(StrEnum):
    """What a signed-in person does in Kansa."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class Visibility(StrEnum):
    """What people other than admins may read (the setting ``KANSA_VISIBILITY``).

    ``organisation``: every signed-in person reads every assessment and subcontractor.
    ``assigned``: auditors and reviewers read the assessments they are assigned to and those
    assessments' subcontractors; viewers read the subcontractors an admin grants them (each with
    its own subcontractors, down the re-entrustment chain) and their assessments; admins read all.
    """

    ORGANISATION = "organisation"
    ASSIGNED = "assigned"


class Reach(StrEnum):
    """How far one person's reading reaches under a visibility setting."""

    EVERYTHING = "everything"  # every assessment and subcontractor
    ASSIGNMENTS = "assignments"  # the assessments they audit or review, and their subcontractors
    GRANTS = "grants"  # the subcontractors granted to them, the chain below them, their assessments


class TokenScope(StrEnum):
    """How far an API token may act for its user, narrowest first (each includes those before)."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Subject(StrEnum):
    """Whose practice a checklist item asks about."""

    SUBCONTRACTOR = "subcontractor"
    ENTRUSTING_ORG = "entrusting_org"
    BOTH = "both"


class CapKind(StrEnum):
    """The kinds of rating cap a checklist version may declare."""

    CRITICAL_ANSWER = "critical_answer"
    ITEM_ANSWER = "item_answer"
    SECTION_BELOW = "section_below"


class Tier(IntEnum):
    """How much a subcontractor matters: 1 critical, 2 important, 3 standard."""

    CRITICAL = 1
    IMPORTANT = 2
    STANDARD = 3


class WebhookEvent(StrEnum):
    """The events a webhook may subscribe to."""

    ASSESSMENT_SUBMITTED = "assessment.submitted"
    ASSESSMENT_APPROVED = "assessment.approved"
    ASSESSMENT_RETURNED = "assessment.returned"
    FINDING_UPDATED = "finding.updated"


class DeliveryState(StrEnum):
    """What became of one webhook delivery."""

    PENDING = "pending"  # to be sent; "held" while its webhook is paused
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its webhook was deleted before it could be delivered


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The stored texts of a vocabulary, in its order (for constraints, choices, messages)."""
    return tuple(member.value for member in vocabulary)
