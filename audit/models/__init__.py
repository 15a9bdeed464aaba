"""SQLModel tables, one module per concept; importing this package registers them all."""

from sqlmodel import SQLModel

from .assessment import (
    ANSWER_STATUSES,
    EDITABLE_STATES,
    FINDING_STATUSES,
    SEVERITIES,
    STATES,
    Answer,
    Assessment,
    AssessmentAuditor,
    Evidence,
    EvidenceBlob,
    Finding,
)
from .base import UTCDateTime, utcnow
from .checklist import Checklist, ChecklistItem, ChecklistSection, ChecklistVersion
from .event import AuditEvent
from .report import ReportCache
from .subcontractor import DEFAULT_CADENCE_MONTHS, TIERS, Subcontractor
from .user import ROLES, TOKEN_SCOPES, ApiToken, LoginAttempt, User
from .webhook import DELIVERY_STATES, WEBHOOK_EVENTS, Webhook, WebhookDelivery

metadata = SQLModel.metadata

__all__ = [
    "ANSWER_STATUSES",
    "DELIVERY_STATES",
    "DEFAULT_CADENCE_MONTHS",
    "EDITABLE_STATES",
    "FINDING_STATUSES",
    "ROLES",
    "SEVERITIES",
    "STATES",
    "TIERS",
    "TOKEN_SCOPES",
    "WEBHOOK_EVENTS",
    "Answer",
    "ApiToken",
    "Assessment",
    "AssessmentAuditor",
    "AuditEvent",
    "Checklist",
    "ChecklistItem",
    "ChecklistSection",
    "ChecklistVersion",
    "Evidence",
    "EvidenceBlob",
    "Finding",
    "LoginAttempt",
    "ReportCache",
    "Subcontractor",
    "User",
    "UTCDateTime",
    "Webhook",
    "WebhookDelivery",
    "metadata",
    "utcnow",
]
