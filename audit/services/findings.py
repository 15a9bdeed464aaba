"""Findings: remediation plans that outlive the audit, and the lists that show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies
from ..limits import OWNER_MAX, PLAN_MAX
from ..models import Assessment, ChecklistItem, Finding, Subcontractor, User
from ..vocabulary import FindingStatus, Severity, WebhookEvent, values
from . import Forbidden, NotFound, Problems, events, revisions, visibility, webhooks
from .assessments import auditor_ids, get_for, webhook_payload
from .pages import last_change

#: The fields of a finding that people keep up to date.
EDITABLE_FIELDS = ("remediation_plan", "owner", "due_date", "status")


def can_edit(session: Session, user: User, assessment: Assessment) -> bool:
    """``policies.may_edit_findings`` with the assessment's auditors loaded."""
    return policies.may_edit_findings(user, assessment, auditor_ids(session, assessment))


def require_edit(session: Session, user: User, assessment: Assessment) -> None:
    """Refuse (403) a person who may not keep this assessment's findings up to date."""
    if not can_edit(session, user, assessment):
        raise Forbidden("only the assessment's auditors, its reviewer or an admin may do this")


def update(
    session: Session,
    actor: User,
    finding: Finding,
    *,
    remediation_plan: str,
    owner: str,
    due_date: date | None,
    status: str,
    expected_revision: int | None = None,
) -> Finding:
    """Change the remediation fields of a finding and record what changed.

    ``expected_revision`` is the revision the client's copy shows (``services.revisions``):
    a stale one is refused (412) after the permission and input checks; None skips it.
    """
    assessment = session.get(Assessment, finding.assessment_id)
    assert assessment is not None  # a foreign key
    require_edit(session, actor, assessment)
    problems = Problems()
    if status not in values(FindingStatus):
        problems.add(
            "status", f"unknown status {status!r}; use one of {', '.join(values(FindingStatus))}"
        )
    if len(owner) > OWNER_MAX:
        problems.add("owner", f"the owner is over {OWNER_MAX} characters")
    if len(remediation_plan) > PLAN_MAX:
        problems.add("remediation_plan", f"the plan is over {PLAN_MAX:,} characters")
    if due_date is not None and not isinstance(due_date, date):
        problems.add("due_date", "must be a date")
    problems.check()
    revisions.bump(session, finding, expected_revision, f"finding {finding.id}")
    before = {f: getattr(finding, f) for f in EDITABLE_FIELDS}
    finding.remediation_plan = remediation_plan.strip()
    finding.owner = owner.strip()
    finding.due_date = due_date
    finding.status = status
    after = {f: getattr(finding, f) for f in EDITABLE_FIELDS}
    changed = [f for f in EDITABLE_FIELDS if before[f] != after[f]]
    session.add(finding)
    if changed:
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
        data = webhook_payload(session, assessment)
        data["finding"] = {
            "id": finding.id,
            "severity": finding.severity,
            "title": finding.title,
            "current": finding.current,
            "changed": {f: after[f] for f in changed},
        }
        webhooks.enqueue(session, WebhookEvent.FINDING_UPDATED, data)
    return finding


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class FindingFilters:
    """Filters of a findings list; None means "no filter"."""

    assessment_id: int | None = None
    severity: str | None = None
    status: str | None = None
    current: bool | None = None
    updated_since: datetime | None = None  # changed (or created) at or after this moment


#: How a findings list may be sorted (a leading ``-`` sorts descending).
SORTS = ("severity", "due_date", "id", "updated_at")


def severity_order() -> Any:
    """SQL for the severity rank, most severe (0) first, as ``Severity`` lists them."""
    return sa.case({s.value: i for i, s in enumerate(Severity)}, value=col(Finding.severity))


def search(filters: FindingFilters, sort: str = "severity", *, within: visibility.Scope) -> Any:
    """A SELECT of (Finding, item ref, assessment title, subcontractor name) for a findings list.

    Only findings of assessments ``within`` the reader's sight (``visibility.scope``). ``sort``
    is one of ``SORTS``, optionally with a leading ``-``; ties are broken by id so pages are
    stable.
    """
    statement = (
        select(Finding, ChecklistItem.ref, Assessment.title, Subcontractor.name)
        .join(ChecklistItem, col(ChecklistItem.id) == Finding.item_id)
        .join(Assessment, col(Assessment.id) == Finding.assessment_id)
        .join(Subcontractor, col(Subcontractor.id) == Assessment.subcontractor_id)
        .where(within.assessments)
    )
    if filters.assessment_id is not None:
        statement = statement.where(Finding.assessment_id == filters.assessment_id)
    if filters.severity is not None:
        statement = statement.where(Finding.severity == filters.severity)
    if filters.status is not None:
        statement = statement.where(Finding.status == filters.status)
    if filters.current is not None:
        statement = statement.where(Finding.current == filters.current)
    if filters.updated_since is not None:
        statement = statement.where(last_change(Finding) >= filters.updated_since)
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    due = col(Finding.due_date)
    by_due = [due.is_(None), due.desc() if descending else due]
    if key == "severity":
        rank = severity_order()
        return statement.order_by(rank.desc() if descending else rank, *by_due, col(Finding.id))
    if key == "due_date":
        return statement.order_by(*by_due, col(Finding.id))
    if key == "updated_at":
        changed = last_change(Finding)
        return statement.order_by(changed.desc() if descending else changed, col(Finding.id))
    return statement.order_by(col(Finding.id).desc() if descending else col(Finding.id))


def for_assessment_page(assessment_id: int, within: visibility.Scope) -> Any:
    """The findings of one assessment as its page lists them: current first, then by severity."""
    return (
        search(FindingFilters(assessment_id=assessment_id), within=within)
        .order_by(None)
        .order_by(col(Finding.current).desc(), severity_order(), ChecklistItem.position, Finding.id)
    )


def get_row(session: Session, user: User, finding_id: int) -> tuple[Finding, str, str, str]:
    """(finding, item ref, assessment title, subcontractor name), if ``user`` may read it."""
    row = session.exec(
        search(FindingFilters(), within=visibility.UNLIMITED).where(Finding.id == finding_id)
    ).first()
    if row is None:
        raise NotFound(f"no finding {finding_id}")
    finding, ref, title, company = row
    try:  # the reader must be allowed to see the assessment; if not, there is no such finding
        get_for(session, user, finding.assessment_id)
    except NotFound:
        raise NotFound(f"no finding {finding_id}") from None
    return finding, ref, title, company


def has_current(session: Session, assessment_id: int) -> bool:
    """Whether the assessment has a finding its answers still show (one a POA&M would list)."""
    found = session.exec(
        select(Finding.id).where(Finding.assessment_id == assessment_id, Finding.current).limit(1)
    ).first()
    return found is not None


def of_assessment(session: Session, assessment: Assessment) -> list[tuple[Finding, str]]:
    """(finding, item ref) of one assessment: current first, most severe first, then by ref."""
    order = {s.value: i for i, s in enumerate(Severity)}
    rows = session.exec(
        select(Finding, ChecklistItem.ref)
        .join(ChecklistItem, col(ChecklistItem.id) == Finding.item_id)
        .where(Finding.assessment_id == assessment.id)
    ).all()
    return sorted(
        ((finding, ref) for finding, ref in rows),
        key=lambda r: (not r[0].current, order[r[0].severity], r[1]),
    )
