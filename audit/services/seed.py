"""Demo data from ``seeds/``: users, a re-entrustment chain and assessments in several states."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from ..models import Checklist, ChecklistVersion, Subcontractor, User, id_of
from . import ServiceError
from . import assessments as assessment_service
from . import checklists as checklist_service
from . import users as user_service
from .subcontractors import register as subcontractor_service


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def load_demo(
    session: Session,
    seeds_dir: Path,
    checklists_dir: Path,
    *,
    hash_method: str = user_service.DEFAULT_HASH_METHOD,
) -> str:
    """Load ``seeds/demo.yaml`` in one transaction; returns a summary with the demo sign-in.

    The checklists in ``checklists_dir`` are published first when none is.
    """
    path = seeds_dir / "demo.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ServiceError(f"{path}: {exc}") from None
    if not session.exec(select(ChecklistVersion.id)).first():
        checklist_service.load_paths(session, [checklists_dir])
    try:
        summary = _load(session, data, hash_method)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return summary


def _load(session: Session, data: dict[str, Any], hash_method: str) -> str:
    password = data["password"]
    people: dict[str, User] = {}
    for spec in data["users"]:
        existing = session.exec(select(User).where(User.email == spec["email"])).first()
        people[spec["email"]] = existing or user_service.create_user(
            session,
            spec["email"],
            password,
            spec["role"],
            spec.get("name"),
            hash_method=hash_method,
        )
    admin = next(u for u in people.values() if u.role == "admin")
    companies: dict[str, Subcontractor] = {}
    for spec in data["subcontractors"]:
        fields = {k: v for k, v in spec.items() if k != "parent"}
        for key in ("contract_start", "contract_end"):
            fields[key] = _date(fields.get(key))
        if spec.get("parent"):
            fields["parent_id"] = companies[spec["parent"]].id
        companies[spec["name"]] = subcontractor_service.create(session, admin, fields)
    count = 0
    for spec in data.get("assessments", []):
        _assessment(session, spec, people, companies)
        count += 1
    return (
        f"demo data loaded: {len(people)} users, {len(companies)} subcontractors, "
        f"{count} assessments. Sign in at /auth/login as {admin.email} (or auditor@, reviewer@, "
        f"viewer@kansa.example) with password {password}"
    )


def _assessment(
    session: Session,
    spec: dict[str, Any],
    people: dict[str, User],
    companies: dict[str, Subcontractor],
) -> None:
    slug, version = spec["checklist"].split()
    row = session.exec(
        select(ChecklistVersion)
        .join(Checklist, col(Checklist.id) == ChecklistVersion.checklist_id)
        .where(Checklist.slug == slug, ChecklistVersion.version == version)
    ).one()
    auditor = people[spec["auditors"][0]]
    reviewer = people[spec["reviewer"]]
    period = spec.get("period") or [None, None]
    assessment = assessment_service.create(
        session,
        auditor,
        subcontractor_id=companies[spec["subcontractor"]].id,
        checklist_version_id=row.id,
        auditor_ids=[id_of(people[e]) for e in spec["auditors"]],
        reviewer_id=reviewer.id,
        period_start=_date(period[0]),
        period_end=_date(period[1]),
        due_date=_date(spec.get("due_date")),
    )
    answers = spec.get("answers")
    if answers:
        definition = checklist_service.definition_for(row)
        inputs = []
        refs = [item.ref for item in definition.items()]
        if answers.get("first"):
            refs = refs[: answers["first"]]
        for ref in refs:
            status, comment = answers.get("fill") or answers.get("default"), ""
            if ref in answers.get("items", {}):
                status, comment = answers["items"][ref]
            if status:
                inputs.append(assessment_service.AnswerInput(ref, status, comment))
        assessment_service.save_answers(session, auditor, assessment, inputs, None)
    state = spec.get("state", "draft")
    if state in ("submitted", "approved", "returned"):
        assessment_service.submit(session, auditor, assessment, None)
    if state == "approved":
        assessment_service.approve(session, reviewer, assessment, None, "Approved for the demo.")
    if state == "returned":
        assessment_service.return_to_auditors(
            session, reviewer, assessment, None, "Please add evidence for the gaps."
        )
