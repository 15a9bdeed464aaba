"""Findings: remediation plans that outlive the audit."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from ..models import FINDING_STATUSES, Assessment, Finding, User, utcnow
from . import Forbidden, ServiceError, events, webhooks
from .assessments import auditor_ids

EDITABLE_FIELDS = ("remediation_plan", "owner", "due_date", "status")


def can_edit(session: Session, user: User, assessment: Assessment) -> bool:
    """Admins, the reviewer and the assessment's auditors; also after approval."""
    if user.role == "admin":
        return True
    if user.role == "reviewer" and assessment.reviewer_id == user.id:
        return True
    return user.role == "auditor" and user.id in auditor_ids(session, assessment)


def update(
    session: Session,
    actor: User,
    finding: Finding,
    *,
    remediation_plan: str,
    owner: str,
    due_date: date | None,
    status: str,
) -> Finding:
    """Change the remediation fields of a finding and record what changed."""
    assessment = session.get(Assessment, finding.assessment_id)
    assert assessment is not None
    if not can_edit(session, actor, assessment):
        raise Forbidden("only the assessment's auditors, its reviewer or an admin may do this")
    if status not in FINDING_STATUSES:
        raise ServiceError(
            f"unknown status {status!r}; use one of {', '.join(FINDING_STATUSES)}", "status"
        )
    if len(owner) > 200:
        raise ServiceError("the owner is over 200 characters", "owner")
    if len(remediation_plan) > 20_000:
        raise ServiceError("the plan is over 20,000 characters", "remediation_plan")
    before = {f: getattr(finding, f) for f in EDITABLE_FIELDS}
    finding.remediation_plan = remediation_plan.strip()
    finding.owner = owner.strip()
    finding.due_date = due_date
    finding.status = status
    after = {f: getattr(finding, f) for f in EDITABLE_FIELDS}
    changed = [f for f in EDITABLE_FIELDS if before[f] != after[f]]
    if changed:
        finding.updated_at = utcnow()
        session.add(finding)
        events.record(
            session,
            actor,
            "finding.updated",
            "finding",
            finding.id,
            assessment_id=finding.assessment_id,
            before={f: before[f] for f in changed},
            after={f: after[f] for f in changed},
        )
        from .assessments import webhook_payload

        data = webhook_payload(session, assessment)
        data["finding"] = {
            "id": finding.id,
            "severity": finding.severity,
            "title": finding.title,
            "current": finding.current,
            "changed": {f: after[f] for f in changed},
        }
        webhooks.enqueue(session, "finding.updated", data)
    return finding
