"""An assessment's workspace: everything its page shows, read in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from .. import policies, rules
from ..checklists import ChecklistDefinition
from ..models import Assessment, AssessmentAuditor, ChecklistVersion, Subcontractor, User
from . import events, evidence
from .assessments import answers_by_ref, definition, require_view, version_of


@dataclass(frozen=True)
class Workspace:
    """Everything an assessment's page shows, read in a fixed number of queries."""

    assessment: Assessment
    checklist: ChecklistDefinition
    version: ChecklistVersion
    subcontractor: Subcontractor
    auditors: list[User]
    reviewer: User | None
    answers: dict[str, tuple[str | None, str]]  # ref -> (answer, comment)
    result: rules.ScoreResult
    files: dict[str | None, list[Any]]  # item ref (None: the whole assessment) -> evidence
    can_edit: bool
    can_review: bool
    events: list[Any]

    @property
    def section_scores(self) -> dict[str, rules.SectionScore]:
        return {s.ref: s for s in self.result.sections}


def workspace(session: Session, user: User, assessment: Assessment) -> Workspace:
    """The assessment as its page shows it to ``user`` (who must be allowed to read it)."""
    require_view(user, assessment)
    checklist = definition(session, assessment)
    stored = answers_by_ref(session, assessment)
    auditors = list(
        session.exec(
            select(User)
            .join(AssessmentAuditor, col(AssessmentAuditor.user_id) == User.id)
            .where(AssessmentAuditor.assessment_id == assessment.id)
            .order_by(col(User.name))
        ).all()
    )
    ids = {u.id for u in auditors if u.id is not None}
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    assert subcontractor is not None  # a foreign key
    files: dict[str | None, list[Any]] = {}
    for item_evidence, ref in evidence.for_assessment(session, assessment):
        files.setdefault(ref, []).append(item_evidence)
    return Workspace(
        assessment=assessment,
        checklist=checklist,
        version=version_of(session, assessment),
        subcontractor=subcontractor,
        auditors=auditors,
        reviewer=session.get(User, assessment.reviewer_id) if assessment.reviewer_id else None,
        answers={ref: (a.status, a.comment) for ref, a in stored.items()},
        result=rules.score(checklist, {ref: a.status for ref, a in stored.items()}),
        files=files,
        can_edit=policies.may_edit(user, assessment, ids),
        can_review=policies.is_under_review(assessment.state)
        and policies.may_review(user, assessment, ids),
        events=events.for_assessment(session, assessment.id or 0, limit=20),
    )
