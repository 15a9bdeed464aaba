"""A synthetic checklist version and a fully answered assessment of it, of any size.

Used by the report tests and ``bench/bench_reports.py`` to see how the report behaves at 30,
120 or 500 items. Everything goes through the normal services (publish, create, save answers,
evidence, findings, submit, approve), so the data is what a real assessment would hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from ..checklists import ChecklistDefinition
from ..models import Finding, User, id_of
from ..services import assessments, checklists, evidence, findings, users
from ..services.subcontractors import register as subcontractors

PASSWORD = "correct horse battery staple"
ANSWER_CYCLE = (
    "compliant",
    "compliant",
    "partial",
    "compliant",
    "non_compliant",
    "compliant",
    "not_applicable",
    "compliant",
    "partial",
    "compliant",
    "compliant",
)
REFERENCE_POOL = (
    ("appi", ("Art. 23", "Art. 25", "Art. 26", "Art. 27")),
    ("ppc_gl", ("3-4-4", "3-4-4(1)", "3-4-4(2)", "3-4-4(3)", "10-6")),
    ("iso27001_2022", ("A.5.19", "A.5.20", "A.5.21", "A.5.22", "A.8.30")),
    ("nist_csf_2", ("GV.SC-04", "GV.SC-05", "GV.SC-07", "ID.AM-02", "DE.CM-06")),
    ("nist_800_53r5", ("SA-9", "SR-6", "RA-9")),
)


@dataclass
class SampleWorld:
    """The people and the assessment a sample was built with."""

    assessment_id: int
    auditor: User
    reviewer: User
    viewer: User
    item_refs: list[str]


def synthetic_definition(items: int, per_section: int = 25, slug: str = "sample-report") -> dict:
    """A valid checklist version of ``items`` items, bilingual, as a mapping for ``from_dict``."""
    sections: list[dict[str, Any]] = []
    n = 0
    s = 0
    while n < items:
        s += 1
        block = []
        for i in range(1, min(per_section, items - n) + 1):
            n += 1
            refs: dict[str, list[str]] = {}
            for k in range(2 + n % 2):
                framework, ids = REFERENCE_POOL[(n + 2 * k) % len(REFERENCE_POOL)]
                refs.setdefault(framework, [])
                point = ids[(n * 7 + k) % len(ids)]
                if point not in refs[framework]:
                    refs[framework].append(point)
            block.append(
                {
                    "ref": f"R-{s}.{i}",
                    "question": {
                        "en": (
                            f"Does the subcontractor keep control {s}.{i} in place, documented "
                            "and reviewed at least yearly, with records an auditor can inspect "
                            "and an owner who answers for it?"
                        ),
                        "ja": (
                            f"委託先は管理策 {s}.{i} を整備し、文書化した上で"
                            "少なくとも年1回見直し、監査人が確認できる記録と責任者を定めているか。"
                        ),
                    },
                    "guidance": {"en": "Inspect the records.", "ja": "記録を確認する。"},
                    "weight": 1 + n % 5,
                    "critical": n % 23 == 0,
                    "references": refs,
                }
            )
        sections.append(
            {
                "ref": f"R-{s}",
                "title": {"en": f"Control area {s}", "ja": f"管理領域 {s}"},
                "items": block,
            }
        )
    return {
        "slug": slug,
        "version": "1.0.0",
        "title": {"en": f"Sample report checklist ({items} items)", "ja": "サンプル監査項目"},
        "sections": sections,
    }


def build(
    session: Session,
    items: int,
    *,
    approve: bool = True,
    slug: str | None = None,
    evidence_every: int = 7,
) -> SampleWorld:
    """Publish a version of ``items`` items and answer, evidence, submit (and approve) it."""
    slug = slug or f"sample-report-{items}"
    definition = ChecklistDefinition.from_dict(synthetic_definition(items, slug=slug), "sample")
    version = checklists.publish(session, definition, f"sample:{slug}").version
    people = {}
    for role in ("admin", "auditor", "reviewer", "viewer"):
        email = f"{role}@{slug}.example"
        people[role] = session.exec(select(User).where(User.email == email)).first() or (
            users.create_user(session, email, PASSWORD, role, f"{role.title()} {slug}")
        )
    company = subcontractors.create(
        session,
        people["admin"],
        {"name": f"Sample Subcontractor {slug} 株式会社", "country": "JP", "tier": 1},
    )
    made = assessments.create(
        session,
        people["auditor"],
        subcontractor_id=company.id,
        checklist_version_id=version.id,
        auditor_ids=[id_of(people["auditor"])],
        reviewer_id=people["reviewer"].id,
        period_start=date(2026, 4, 1),
        period_end=date(2026, 9, 30),
        due_date=date(2026, 10, 31),
    )
    inputs = []
    refs = [item.ref for item in definition.items()]
    for n, ref in enumerate(refs):
        status = ANSWER_CYCLE[n % len(ANSWER_CYCLE)]
        comment = ""
        if status != "compliant":
            comment = (
                f"{ref}: the procedure exists but the last review is missing; "
                "records for two quarters could not be shown. 記録の一部を確認できなかった。"
            )
        inputs.append(assessments.AnswerInput(ref, status, comment))
    assessments.save_answers(session, people["auditor"], made, inputs, None)
    for n, ref in enumerate(refs):
        if n % evidence_every == 0:
            evidence.add(
                session,
                people["auditor"],
                made,
                filename=f"evidence-{ref}.pdf",
                content_type="application/pdf",
                data=f"%PDF sample {ref}".encode(),
                max_bytes=1 << 20,
                item_ref=ref,
            )
    for n, finding in enumerate(
        session.exec(select(Finding).where(Finding.assessment_id == made.id)).all()
    ):
        if n % 2 == 0:
            findings.update(
                session,
                people["auditor"],
                finding,
                remediation_plan="Schedule the yearly review and keep its minutes.",
                owner="Compliance office",
                due_date=date(2026, 12, 31),
                status="in_remediation",
            )
    session.commit()
    if approve:
        fresh = assessments.get(session, id_of(made))
        assessments.submit(session, people["auditor"], fresh, None)
        assessments.approve(session, people["reviewer"], fresh, None, "Approved for the file.")
        session.commit()
    return SampleWorld(id_of(made), people["auditor"], people["reviewer"], people["viewer"], refs)
