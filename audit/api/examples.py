"""One example per schema of the OpenAPI document, shown by /api/v1/docs and generators.

``spec.KansaDocs`` sets each as the ``example`` of its component (OpenAPI 3.0 allows one per
schema); a schema whose every field carries ``metadata={"example": ...}`` gets one made of
those. ``tests/api/test_openapi_document.py`` validates each against its own schema, so an
example that drifts from its schema fails the suite. Values describe one made-up audit:
assessment 7 of Aozora Cloud against Subcontractor oversight 1.0.0.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

AT = "2026-12-01T09:30:00+00:00"
HASH = "9b2f6a8c1d0e4f3a5b7c9d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a"
ETAG = "a7-r12"

TOKEN = {
    "id": 3,
    "name": "GRC sync",
    "prefix": "kansa_4f2a",
    "scope": "write",
    "created_at": AT,
    "expires_at": "2027-12-01T09:30:00+00:00",
    "last_used_at": AT,
}
VERSION = {
    "id": 1,
    "slug": "subcontractor-oversight",
    "version": "1.0.0",
    "title_en": "Subcontractor oversight",
    "title_ja": "委託先管理",
    "effective_date": "2025-04-01",
    "item_count": 24,
    "content_hash": HASH,
    "published_at": AT,
}
SUBCONTRACTOR = {
    "name": "Aozora Cloud K.K.",
    "country": "JP",
    "tier": 1,
    "parent_id": None,
    "services": "Hosting of the customer support system",
    "data_categories": ["customer PII", "support tickets"],
    "contract_start": "2025-04-01",
    "contract_end": "2028-03-31",
    "audit_cadence_months": 12,
    "contact_email": "security@aozora.example",
    "notes": "Re-entrusts backups to a storage provider.",
}
ASSESSMENT_IN = {
    "subcontractor_id": 5,
    "checklist_version_id": 1,
    "auditor_ids": [2, 3],
    "reviewer_id": 4,
    "title": "Aozora Cloud annual audit 2026",
    "period_start": "2026-04-01",
    "period_end": "2027-03-31",
    "due_date": "2027-01-31",
}
ANSWER = {"ref": "SO-2.3", "status": "partial", "comment": "Only two of five contracts list it."}
FINDING_PATCH = {
    "remediation_plan": "Add the re-entrustment clause to every contract at renewal.",
    "owner": "Legal, Tanaka",
    "due_date": "2027-06-30",
    "status": "in_remediation",
}

EVENT: dict[str, Any] = {
    "id": 41,
    "occurred_at": "2026-12-01T09:30:00.123456+00:00",
    "actor_id": 2,
    "actor": "hanako.sato@example.com",
    "action": "assessment.submitted",
    "object_type": "assessment",
    "object_id": "7",
    "assessment_id": 7,
    "before": {"state": "in_progress"},
    "after": {"state": "submitted"},
    "prev_hash": HASH,
}
# the example's hash is right: the events tag's rule applied to the fields above
EVENT["hash"] = hashlib.sha256(
    json.dumps(
        {
            "prev": EVENT["prev_hash"],
            "at": EVENT["occurred_at"],
            "actor_id": EVENT["actor_id"],
            "actor": EVENT["actor"],
            "action": EVENT["action"],
            "object": [EVENT["object_type"], EVENT["object_id"]],
            "assessment_id": EVENT["assessment_id"],
            "before": EVENT["before"],
            "after": EVENT["after"],
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
).hexdigest()

WEBHOOK = {
    "id": 1,
    "url": "https://grc.example.com/hooks/kansa",
    "events": ["assessment.approved", "finding.updated"],
    "active": True,
    "description": "GRC tool",
    "revision": 2,
    "etag": "w1-r2",
    "previous_secret_expires_at": None,
    "created_at": AT,
}

EXAMPLES: dict[str, Any] = {
    "EventOut": EVENT,
    "EventBatch": {"events": [EVENT], "next": 41, "more": False},
    "Problem": {
        "field": "answers",
        "ref": "SO-2.3",
        "kind": "comment_required",
        "message": "SO-2.3 is partial: explain it in a comment",
    },
    "Error": {
        "code": 422,
        "status": "Unprocessable Entity",
        "message": "the request was not valid; nothing was saved",
        "errors": {"due_date": ["the due date is required"]},
    },
    "PaginationMetadata": {
        "total": 42,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 1,
        "next_page": 2,
    },
    "TokenInfo": TOKEN,
    "ViewerGrantIn": {"user_id": 9},
    "ViewerGrantOut": {
        "user_id": 9,
        "subcontractor_id": 5,
        "name": "Suzuki Ichiro",
        "email": "ichiro.suzuki@example.com",
        "granted_by_id": 1,
        "granted_at": AT,
    },
    "Me": {
        "id": 2,
        "email": "hanako.sato@example.com",
        "name": "Sato Hanako",
        "role": "auditor",
        "token": TOKEN,
    },
    "VersionSummary": VERSION,
    "ChecklistOut": {
        "id": 1,
        "slug": "subcontractor-oversight",
        "title_en": "Subcontractor oversight",
        "title_ja": "委託先管理",
        "versions": [VERSION],
    },
    "VersionDetail": {
        **VERSION,
        "created": True,
        "content": {"slug": "subcontractor-oversight", "version": "1.0.0", "sections": []},
    },
    "ScorePreview": {"answers": {"SO-1.1": "compliant", "SO-2.3": "partial"}},
    "Score": {
        "slug": "subcontractor-oversight",
        "version": "1.0.0",
        "score": 72.5,
        "rating": "C",
        "band_rating": "B",
        "provisional": False,
        "completion": 1.0,
        "counts": {"compliant": 18, "partial": 4, "non_compliant": 1, "not_applicable": 1},
        "sections": [{"ref": "SO-2", "score": 61.0}],
        "caps": [{"rating": "C", "reason": "critical item SO-2.1 non_compliant caps at C"}],
        "references": {"SO-2.3": ["MIC guidance 3.2"]},
        "findings": [{"ref": "SO-2.1", "severity": "critical"}],
    },
    "SubcontractorCreate": SUBCONTRACTOR,
    "SubcontractorPatch": {"tier": 2, "contact_email": "ciso@aozora.example"},
    "SubcontractorOut": {
        "id": 5,
        **SUBCONTRACTOR,
        "parent_name": None,
        "cadence_months": 12,
        "last_approved": "2025-11-20",
        "rating": "B",
        "score": 81.0,
        "next_due": "2026-11-20",
        "overdue": True,
        "created_at": AT,
        "updated_at": None,
    },
    "AssessmentCreate": ASSESSMENT_IN,
    "AssessmentPatch": {"due_date": "2027-02-28", "reviewer_id": 4},
    "AssessmentOut": {
        "id": 7,
        **ASSESSMENT_IN,
        "state": "in_progress",
        "editable": True,
        "revision": 12,
        "etag": ETAG,
        "subcontractor_name": "Aozora Cloud K.K.",
        "checklist": "subcontractor-oversight",
        "version": "1.0.0",
        "created_by_id": 2,
        "review_comment": None,
        "score_snapshot": None,
        "created_at": AT,
        "updated_at": AT,
        "submitted_at": None,
        "approved_at": None,
    },
    "Review": {"comment": "Approved; the register is complete."},
    "Return": {"comment": "SO-2.3: attach the contract register before resubmitting."},
    "AnswerIn": {"status": "partial", "comment": ANSWER["comment"]},
    "AnswerItem": ANSWER,
    "AnswersIn": {"answers": [ANSWER, {"ref": "SO-1.1", "status": "compliant", "comment": ""}]},
    "AnswerOut": {**ANSWER, "answered_by_id": 2, "answered_at": AT},
    "AnswersOut": {
        "assessment_id": 7,
        "revision": 12,
        "etag": ETAG,
        "answers": [{**ANSWER, "answered_by_id": 2, "answered_at": AT}],
    },
    "EvidenceOut": {
        "id": 11,
        "assessment_id": 7,
        "item_ref": "SO-2.3",
        "filename": "contract-register.pdf",
        "content_type": "application/pdf",
        "size": 48213,
        "sha256": HASH,
        "uploaded_by_id": 2,
        "uploaded_at": AT,
        "download": "/api/v1/evidence/11/download",
    },
    "FindingPatch": FINDING_PATCH,
    "FindingOut": {
        "id": 9,
        "assessment_id": 7,
        "item_ref": "SO-2.3",
        "severity": "medium",
        "title": "Re-entrustment is not covered by every contract",
        "current": True,
        **FINDING_PATCH,
        "created_at": AT,
        "updated_at": AT,
    },
    "WebhookIn": {
        "url": "https://grc.example.com/hooks/kansa",
        "secret": "a-long-random-secret-of-32-chars!",
        "events": ["assessment.approved", "finding.updated"],
        "description": "GRC tool",
    },
    "WebhookOut": WEBHOOK,
    "WebhookPatch": {"active": False},
    "RotateIn": {"secret": "the-next-long-random-secret-32ch"},
    "Rotated": {
        **WEBHOOK,
        "revision": 3,
        "etag": "w1-r3",
        "previous_secret_expires_at": "2026-12-02T09:30:00+00:00",
        "secret": "the-next-long-random-secret-32ch",
    },
    "DeliveryOut": {
        "id": 31,
        "delivery_id": "5f0c8d2e-7d7b-4f7e-9a49-0b1d2c3e4f5a",
        "webhook_id": 1,
        "event": "assessment.approved",
        "state": "failed",
        "attempts": 3,
        "last_status": 503,
        "last_error": "the receiver answered 503",
        "next_attempt_at": AT,
        "delivered_at": None,
        "updated_at": AT,
        "created_at": AT,
    },
}


def example_for(name: str, definition: dict[str, Any]) -> Any:
    """The example of component ``name``: listed above, else made of its fields' examples."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    properties = definition.get("properties") or {}
    if properties and all("example" in field for field in properties.values()):
        return {key: field["example"] for key, field in properties.items()}
    return None


#: the outline of an OSCAL POA&M answer (the whole document validates against NIST's schema)
POAM = {
    "plan-of-action-and-milestones": {
        "uuid": "5d1c0b7a-9e8f-5a6b-8c7d-1e2f3a4b5c6d",
        "metadata": {"title": "Kansa POA&M of assessment 7", "oscal-version": "1.1.3"},
        "system-id": {"identifier-type": "https://kansa.example/ns", "id": "subcontractor-5"},
        "poam-items": [],
    }
}
