"""Small builders for service-level tests: people, a subcontractor, an assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from audit.models import Checklist, ChecklistVersion, Subcontractor, User  # noqa: F401 - re-exported
from audit.services import assessments, users
from audit.services.subcontractors import register as subcontractors

PASSWORD = "correct horse battery staple"
#: a cheap password hash for tests (the app fixture sets the same PASSWORD_HASH_METHOD)
FAST_HASH = "pbkdf2:sha256:1000"
#: the due date of assessments made by ``assessment`` unless a test gives one
DUE = date(2027, 3, 31)


@dataclass
class Team:
    admin: User
    auditor: User
    auditor2: User
    reviewer: User
    viewer: User


def team(session: Session) -> Team:
    made = {
        role: users.create_user(
            session, f"{role}@example.com", PASSWORD, kind, hash_method=FAST_HASH
        )
        for role, kind in (
            ("admin", "admin"),
            ("auditor", "auditor"),
            ("auditor2", "auditor"),
            ("reviewer", "reviewer"),
            ("viewer", "viewer"),
        )
    }
    session.commit()
    return Team(**made)


def version(session: Session, slug: str, number: str = "1.0.0") -> ChecklistVersion:
    return session.exec(
        select(ChecklistVersion)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
        .where(Checklist.slug == slug, ChecklistVersion.version == number)
    ).one()


def subcontractor(session: Session, actor: User, name: str = "Aozora Cloud", **fields):
    data = {"name": name, "country": "JP", "tier": 1, **fields}
    made = subcontractors.create(session, actor, data)
    session.commit()
    return made


def assessment(session: Session, people: Team, slug: str = "subcontractor-oversight", **kw):
    company = kw.pop("company", None) or subcontractor(session, people.admin)
    made = assessments.create(
        session,
        people.auditor,
        subcontractor_id=company.id,
        checklist_version_id=version(session, slug).id,
        auditor_ids=kw.pop("auditor_ids", [people.auditor.id]),
        reviewer_id=kw.pop("reviewer_id", people.reviewer.id),
        due_date=kw.pop("due_date", DUE),
        **kw,
    )
    session.commit()
    return made
