"""Vocabularies and policies: one module each, and nothing else repeats them.

The policies are pure functions, tested here on plain objects; the services and pages that call
them are tested through HTTP elsewhere. The last tests keep the rule "one home" true: the
database constraints are built from the enums, and no template or view spells out a role or
state tuple of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit import limits, policies
from audit.models import metadata
from audit.services import Problems, ServiceError
from audit.vocabulary import (
    AnswerStatus,
    AssessmentState,
    DeliveryState,
    FindingStatus,
    Role,
    Severity,
    TokenScope,
    values,
)

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Person:
    id: int
    role: str
    active: bool = True


@dataclass
class Facts:
    state: str = AssessmentState.IN_PROGRESS
    reviewer_id: int | None = 3
    created_by_id: int | None = 1
    due_date: date | None = None


ADMIN, AUDITOR, OTHER_AUDITOR, REVIEWER, VIEWER = (
    Person(9, Role.ADMIN),
    Person(1, Role.AUDITOR),
    Person(2, Role.AUDITOR),
    Person(3, Role.REVIEWER),
    Person(4, Role.VIEWER),
)
AUDITORS = {1}


@pytest.mark.parametrize("state", list(AssessmentState))
def test_only_open_states_accept_changes_and_only_an_assigned_auditor_or_admin_edits(state):
    facts = Facts(state=state)
    editable = state in ("draft", "in_progress", "returned")
    assert policies.accepts_changes(state) is editable
    assert policies.may_edit(AUDITOR, facts, AUDITORS) is editable
    assert policies.may_edit(ADMIN, facts, AUDITORS) is editable
    for person in (OTHER_AUDITOR, REVIEWER, VIEWER):
        assert policies.may_edit(person, facts, AUDITORS) is False


def test_review_is_for_the_assigned_reviewer_or_an_admin_never_an_auditor():
    facts = Facts(state=AssessmentState.SUBMITTED)
    assert policies.may_review(REVIEWER, facts, AUDITORS)
    assert policies.may_review(ADMIN, facts, AUDITORS)
    assert not policies.may_review(ADMIN, facts, {ADMIN.id})  # an admin who audited it
    assert not policies.may_review(Person(5, Role.REVIEWER), facts, AUDITORS)  # not assigned
    assert not policies.may_review(AUDITOR, facts, AUDITORS)
    assert policies.is_under_review(AssessmentState.SUBMITTED)
    assert not policies.is_under_review(AssessmentState.RETURNED)


def test_who_plans_audits_and_who_can_be_chosen():
    assert [policies.may_create_assessment(p) for p in (ADMIN, AUDITOR, REVIEWER, VIEWER)] == [
        True,
        True,
        False,
        False,
    ]
    assert policies.may_audit(AUDITOR) and not policies.may_audit(Person(1, Role.AUDITOR, False))
    assert policies.may_be_reviewer(REVIEWER) and not policies.may_be_reviewer(AUDITOR)
    assert policies.may_delete_draft(AUDITOR, Facts()) and policies.may_delete_draft(ADMIN, Facts())
    assert not policies.may_delete_draft(OTHER_AUDITOR, Facts())
    assert policies.may_be_deleted(AssessmentState.DRAFT)
    assert not policies.may_be_deleted(AssessmentState.IN_PROGRESS)


def test_findings_stay_editable_by_auditors_reviewer_and_admins_after_approval():
    facts = Facts(state=AssessmentState.APPROVED)
    for person, allowed in ((AUDITOR, True), (REVIEWER, True), (ADMIN, True), (VIEWER, False)):
        assert policies.may_edit_findings(person, facts, AUDITORS) is allowed
    assert not policies.may_edit_findings(OTHER_AUDITOR, facts, AUDITORS)


def test_comments_overdue_and_cadence():
    assert [policies.needs_comment(a) for a in AnswerStatus] == [False, True, True, False]
    assert not policies.needs_comment(None)
    today = date(2026, 12, 1)
    assert policies.is_overdue(date(2026, 11, 30), AssessmentState.SUBMITTED, today)
    assert not policies.is_overdue(date(2026, 11, 30), AssessmentState.APPROVED, today)
    assert not policies.is_overdue(date(2026, 12, 1), AssessmentState.DRAFT, today)
    assert not policies.is_overdue(None, AssessmentState.DRAFT, today)
    assert [policies.cadence_months(t, None) for t in (1, 2, 3)] == [12, 24, 36]
    assert policies.cadence_months(3, 6) == 6


def test_token_scopes_widen_in_order():
    order = values(TokenScope)
    for i, scope in enumerate(order):
        for j, required in enumerate(order):
            assert policies.scope_allows(scope, required) is (i >= j)
    assert not policies.scope_allows("root", "read")
    assert policies.may_manage_tokens_of(AUDITOR, AUDITOR.id)
    assert policies.may_manage_tokens_of(ADMIN, AUDITOR.id)
    assert not policies.may_manage_tokens_of(OTHER_AUDITOR, AUDITOR.id)


def test_problems_are_collected_and_raised_together():
    problems = Problems()
    problems.check()  # nothing noted: nothing raised
    problems.add("name", "the legal name is required")
    problems.add("tier", "tier must be 1, 2 or 3")
    assert "name" in problems and "country" not in problems
    with pytest.raises(ServiceError) as refused:
        problems.check()
    assert refused.value.status == 422
    assert refused.value.by_field() == {
        "name": ["the legal name is required"],
        "tier": ["tier must be 1, 2 or 3"],
    }
    assert refused.value.message.startswith("2 problems: the legal name is required; tier")
    taken = Problems()
    taken.add("name", "a subcontractor named 'X' already exists", "taken")
    with pytest.raises(ServiceError) as clash:
        taken.check()
    assert clash.value.status == 409  # a clash with stored data alone


# ------------------------------------------------------------------------------ one home


def _check_values(table: str, name: str) -> list[str]:
    constraint = next(
        c
        for c in metadata.tables[table].constraints
        if isinstance(c, sa.CheckConstraint) and c.name and str(c.name).endswith(f"_{name}")
    )
    return re.findall(r"'([^']+)'", str(constraint.sqltext))


@pytest.mark.parametrize(
    ("table", "column", "vocabulary"),
    [
        ("assessment", "state", AssessmentState),
        ("answer", "status", AnswerStatus),
        ("finding", "severity", Severity),
        ("finding", "status", FindingStatus),
        ("user_account", "role", Role),
        ("api_token", "scope", TokenScope),
        ("webhook_delivery", "state", DeliveryState),
    ],
)
def test_database_constraints_are_built_from_the_vocabularies(table, column, vocabulary):
    assert _check_values(table, column) == list(values(vocabulary))


def test_columns_people_type_into_are_sized_by_the_limits():
    columns = metadata.tables
    assert columns["assessment"].c.title.type.length == limits.TITLE_MAX
    assert columns["subcontractor"].c.name.type.length == limits.LEGAL_NAME_MAX
    assert columns["finding"].c.owner.type.length == limits.OWNER_MAX
    assert columns["user_account"].c.name.type.length == limits.PERSON_NAME_MAX
    assert columns["webhook"].c.url.type.length == limits.WEBHOOK_URL_MAX


#: A role, state or answer spelled out in a comparison: the template repeats a policy.
REPEATED_RULE = re.compile(
    r"\.(role|state|status)\s*(==|!=|in|not in)\s*[\(\['\"]"
    r"|\b(role|state|status)\s+in\s+\("
)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (ROOT / "templates").rglob("*.html") if "reports" not in p.parts),
    ids=lambda p: str(p.relative_to(ROOT / "templates")),
)
def test_templates_ask_the_policies_instead_of_repeating_them(path):
    text = path.read_text(encoding="utf-8")
    assert not REPEATED_RULE.findall(text), f"{path.name} repeats a policy: use audit.policies"


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "audit" / "web").glob("*.py")) + sorted((ROOT / "audit" / "api").glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_views_hold_no_sql_and_no_role_checks(path):
    text = path.read_text(encoding="utf-8")
    assert "select(" not in text, f"{path.name} builds a query: move it into a service"
    assert not re.search(r"\.role\s*(==|!=|in)\s", text), f"{path.name} checks a role itself"


def test_the_people_directory_and_the_audit_trail():
    admin, auditor, reviewer, viewer = (
        Person(1, Role.ADMIN),
        Person(2, Role.AUDITOR),
        Person(3, Role.REVIEWER),
        Person(4, Role.VIEWER),
    )
    assert policies.may_see_everyone(admin)
    assert not any(policies.may_see_everyone(p) for p in (auditor, reviewer, viewer))
    assert [r for r in Role if policies.may_be_assigned(r)] == [
        r for r in Role if r in (Role.ADMIN, Role.AUDITOR, Role.REVIEWER)
    ]
    assert policies.may_see_email_of(admin, 4) and policies.may_see_email_of(viewer, 4)
    assert not policies.may_see_email_of(auditor, 3)
    assert not policies.may_see_email_of(Person(None, Role.AUDITOR), None)
    assert policies.may_read_audit_trail(admin)
    assert not any(policies.may_read_audit_trail(p) for p in (auditor, reviewer, viewer))
