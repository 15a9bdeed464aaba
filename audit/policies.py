"""Who may do what, and when: every access and workflow rule of Kansa, once, by name.

Each policy is a pure function of the facts it needs (no database, no Flask), so the services
that enforce a rule, the templates that decide what to show and the tests all call the same
function. The services load the facts (an assessment's auditors, say), ask the policy, and
refuse with the reason; a template asks the policy and shows or hides a button. Nothing else
repeats these tuples of roles and states.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Protocol

from .vocabulary import (
    AnswerStatus,
    AssessmentState,
    FindingStatus,
    Reach,
    Role,
    Tier,
    TokenScope,
    Visibility,
)


class Person(Protocol):
    """A signed-in person, as far as the policies need to know."""

    @property
    def id(self) -> int | None: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


class AssessmentFacts(Protocol):
    """An assessment, as far as the policies need to know."""

    @property
    def state(self) -> str: ...
    @property
    def reviewer_id(self) -> int | None: ...
    @property
    def created_by_id(self) -> int | None: ...
    @property
    def due_date(self) -> date | None: ...


# ------------------------------------------------------------------------------ workflow

#: The states in which an assessment's answers, evidence and particulars may still change.
EDITABLE_STATES = (AssessmentState.DRAFT, AssessmentState.IN_PROGRESS, AssessmentState.RETURNED)


def accepts_changes(state: str) -> bool:
    """Whether an assessment in ``state`` may still be changed (answers, evidence, particulars)."""
    return state in EDITABLE_STATES


def is_open(state: str) -> bool:
    """Whether work remains on an assessment in ``state``: anything not yet approved."""
    return state != AssessmentState.APPROVED


def is_under_review(state: str) -> bool:
    """Whether an assessment in ``state`` waits for its reviewer's decision."""
    return state == AssessmentState.SUBMITTED


def is_overdue(due_date: date | None, state: str, today: date) -> bool:
    """An open assessment past its due date (an approved one is never overdue)."""
    return due_date is not None and due_date < today and is_open(state)


def needs_comment(answer: str | None) -> bool:
    """Whether an answer must be explained in a comment before the assessment is submitted."""
    return answer in (AnswerStatus.PARTIAL, AnswerStatus.NON_COMPLIANT)


def may_be_deleted(state: str) -> bool:
    """Only a draft may be deleted (and only while nobody has worked on it)."""
    return state == AssessmentState.DRAFT


#: The statuses of a finding whose remediation is still to be done (what a POA&M lists):
#: not closed, and no risk accepted instead.
UNRESOLVED_FINDING_STATUSES = (FindingStatus.OPEN, FindingStatus.IN_REMEDIATION)


def is_unresolved(finding_status: str) -> bool:
    """Whether a finding with ``finding_status`` still waits for its remediation."""
    return finding_status in UNRESOLVED_FINDING_STATUSES


# ------------------------------------------------------------------------------ assessments


def may_view(user: Person) -> bool:
    """Every active signed-in person may read assessments, viewers included."""
    return user.active


def reach(user: Person, visibility: str) -> Reach:
    """How much ``user`` may read under the visibility setting (``KANSA_VISIBILITY``).

    Under ``organisation`` everyone reads everything. Under ``assigned`` admins still do;
    auditors and reviewers read the assessments they are assigned to (as an auditor or as the
    reviewer) and those assessments' subcontractors; viewers read what an admin grants them per
    subcontractor, a grant covering the subcontractor and its whole chain below it.
    """
    if visibility == Visibility.ORGANISATION or user.role == Role.ADMIN:
        return Reach.EVERYTHING
    if user.role in (Role.AUDITOR, Role.REVIEWER):
        return Reach.ASSIGNMENTS
    return Reach.GRANTS


def may_grant_visibility(user: Person) -> bool:
    """Only admins grant viewers a subcontractor (and take the grant back)."""
    return user.role == Role.ADMIN


def may_receive_grant(user: Person) -> bool:
    """Grants are for viewers: auditors and reviewers read by assignment, admins read all."""
    return user.role == Role.VIEWER


def may_create_assessment(user: Person) -> bool:
    """Auditors and admins plan assessments."""
    return user.role in (Role.ADMIN, Role.AUDITOR)


def may_audit(user: Person) -> bool:
    """Whether a person can be assigned as one of an assessment's auditors."""
    return user.active and user.role in (Role.AUDITOR, Role.ADMIN)


def may_be_reviewer(user: Person) -> bool:
    """Whether a person can be an assessment's reviewer."""
    return user.active and user.role in (Role.REVIEWER, Role.ADMIN)


def may_edit(user: Person, assessment: AssessmentFacts, auditor_ids: Collection[int]) -> bool:
    """Its assigned auditors (and admins) change an assessment, and only while it is open."""
    if not accepts_changes(assessment.state):
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.AUDITOR and user.id in auditor_ids


def may_review(user: Person, assessment: AssessmentFacts, auditor_ids: Collection[int]) -> bool:
    """The assigned reviewer, or an admin, decides, and never one of the assessment's auditors."""
    if user.id in auditor_ids:
        return False
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.REVIEWER and assessment.reviewer_id == user.id


def may_delete_draft(user: Person, assessment: AssessmentFacts) -> bool:
    """A draft's creator (an auditor) or an admin may delete it."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.AUDITOR and assessment.created_by_id == user.id


def may_edit_findings(
    user: Person, assessment: AssessmentFacts, auditor_ids: Collection[int]
) -> bool:
    """Its auditors, its reviewer and admins keep remediation up to date, also after approval."""
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.REVIEWER and assessment.reviewer_id == user.id:
        return True
    return user.role == Role.AUDITOR and user.id in auditor_ids


# ------------------------------------------------------------------------------ the programme


def may_manage_subcontractors(user: Person) -> bool:
    """Auditors and admins record and change subcontractors."""
    return user.role in (Role.ADMIN, Role.AUDITOR)


def may_delete_subcontractor(user: Person) -> bool:
    """Only admins delete a subcontractor (and only one recorded by mistake)."""
    return user.role == Role.ADMIN


def may_publish_checklists(user: Person) -> bool:
    """Only admins publish checklist versions uploaded through the API."""
    return user.role == Role.ADMIN


def may_manage_users(user: Person) -> bool:
    """Only admins create accounts and change roles."""
    return user.role == Role.ADMIN


def may_see_everyone(user: Person) -> bool:
    """Admins see every account in the people directory, inactive ones and viewers included."""
    return user.role == Role.ADMIN


def may_be_assigned(role: str) -> bool:
    """Whether a person of ``role`` can be chosen as an assessment's auditor or reviewer.

    Everyone who may read assessments sees the active ones among them in the people
    directory, so that any integrator can fill ``auditor_ids`` and ``reviewer_id``.
    """
    return role in (Role.AUDITOR, Role.REVIEWER, Role.ADMIN)


def may_see_email_of(actor: Person, person_id: int | None) -> bool:
    """A person's e-mail address is shown to themselves and to admins, to nobody else."""
    return actor.role == Role.ADMIN or (actor.id is not None and actor.id == person_id)


def may_read_audit_trail(user: Person) -> bool:
    """Only admins read the whole audit trail; an assessment's events go with the assessment."""
    return user.role == Role.ADMIN


def may_manage_webhooks(user: Person) -> bool:
    """Only admins register, pause and retry webhooks."""
    return user.role == Role.ADMIN


def may_manage_tokens_of(actor: Person, owner_id: int | None) -> bool:
    """A person manages their own API tokens; an admin manages anyone's."""
    return actor.id == owner_id or actor.role == Role.ADMIN


def scope_allows(scope: str, required: str) -> bool:
    """Whether a token of ``scope`` may call an endpoint that needs ``required``."""
    order = list(TokenScope)
    if scope not in order:
        return False
    return order.index(TokenScope(scope)) >= order.index(TokenScope(required))


# ------------------------------------------------------------------------------ audit cadence

#: Months between audits by tier; the PPC asked for annual audits of contractors that handle
#: important data.
DEFAULT_CADENCE_MONTHS: Mapping[int, int] = {
    Tier.CRITICAL: 12,
    Tier.IMPORTANT: 24,
    Tier.STANDARD: 36,
}


def cadence_months(tier: int, own_cadence: int | None) -> int:
    """Months between a subcontractor's audits: its own cadence, or its tier's default."""
    return own_cadence or DEFAULT_CADENCE_MONTHS[tier]
