"""SQLModel tables, one module per concept; importing this package registers them all.

The vocabularies their CHECK constraints use live in ``audit.vocabulary``; the sizes of the
columns people type into in ``audit.limits``.
"""

from sqlmodel import SQLModel

from .assessment import Answer, Assessment, AssessmentAuditor, Evidence, EvidenceBlob, Finding
from .base import UTCDateTime, id_of, rows_affected, table_of, utcnow
from .checklist import Checklist, ChecklistItem, ChecklistSection, ChecklistVersion
from .event import AuditEvent
from .idempotency import IdempotencyKey
from .installation import INSTALLATION_ID, Installation
from .report import ReportCache
from .subcontractor import Subcontractor, ViewerGrant
from .user import ApiToken, LoginAttempt, User
from .webhook import Webhook, WebhookDelivery

metadata = SQLModel.metadata

__all__ = [
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
    "IdempotencyKey",
    "INSTALLATION_ID",
    "Installation",
    "LoginAttempt",
    "ReportCache",
    "Subcontractor",
    "User",
    "UTCDateTime",
    "ViewerGrant",
    "Webhook",
    "WebhookDelivery",
    "id_of",
    "metadata",
    "rows_affected",
    "table_of",
    "utcnow",
]
