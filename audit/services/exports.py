"""Exports of an assessment: answers as CSV, and NIST OSCAL assessment-results JSON.

OSCAL mapping (see shared/domain/oscal.md): the assessment is one ``result``; each checklist item
is a ``control-id`` under ``reviewed-controls``; each answer an ``observation``; each partial or
non-compliant answer a ``finding`` targeting the item as an objective; the subcontractor a
``party``; score, rating and checklist version ``props`` in Kansa's namespace; evidence files
``back-matter`` resources. UUIDs are derived from the assessment and item, so exporting the same
assessment twice gives the same identifiers.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from .. import policies, rules
from ..models import (
    Answer,
    Assessment,
    AssessmentAuditor,
    ChecklistItem,
    Evidence,
    Finding,
    Subcontractor,
    User,
    utcnow,
)
from ..vocabulary import AnswerStatus
from . import assessments as assessment_service

OSCAL_VERSION = "1.1.2"
NS = "urn:kansa:oscal"
_ROOT = uuid.UUID("6f2b9a1e-3c4d-5e6f-8a9b-0c1d2e3f4a5b")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "section",
    "ref",
    "question",
    "weight",
    "critical",
    "answer",
    "comment",
    "answered_by",
    "answered_at",
    "evidence",
)


def _cell(value: Any) -> str:
    """Text for a spreadsheet cell; a leading formula character is neutralised with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _rows(session: Session, assessment: Assessment) -> list[tuple[Any, ...]]:
    answers: dict[int | None, tuple[Answer | None, str | None]] = {
        a.item_id: (a, email)
        for a, email in session.exec(
            select(Answer, User.email)
            .outerjoin(User, col(User.id) == Answer.answered_by_id)
            .where(Answer.assessment_id == assessment.id)
        ).all()
    }
    files: dict[int | None, list[Evidence]] = {}
    for evidence in session.exec(
        select(Evidence).where(Evidence.assessment_id == assessment.id).order_by(col(Evidence.id))
    ):
        files.setdefault(evidence.item_id, []).append(evidence)
    items = session.exec(
        select(ChecklistItem)
        .where(ChecklistItem.version_id == assessment.checklist_version_id)
        .order_by(col(ChecklistItem.section_id), col(ChecklistItem.position))
    ).all()
    return [(item, *answers.get(item.id, (None, None)), files.get(item.id, [])) for item in items]


def answers_csv(session: Session, assessment: Assessment) -> str:
    """Every item of the pinned version with its answer, comment and evidence, one row each."""
    checklist = assessment_service.definition(session, assessment)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item, answer, email, files in _rows(session, assessment):
        writer.writerow(
            _cell(v)
            for v in (
                checklist.item(item.ref).section_ref,
                item.ref,
                item.question_en,
                item.weight,
                "yes" if item.critical else "no",
                answer.status if answer else "",
                answer.comment if answer else "",
                email or "",
                answer.answered_at.isoformat(timespec="seconds") if answer else "",
                "; ".join(f"{f.filename} (sha256 {f.sha256})" for f in files),
            )
        )
    return out.getvalue()


def _uuid(*parts: Any) -> str:
    return str(uuid.uuid5(_ROOT, "/".join(str(p) for p in parts)))


def _time(moment: datetime | None) -> str:
    return (moment or utcnow()).isoformat(timespec="seconds")


def _prop(name: str, value: Any) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value)}


def oscal_assessment_results(session: Session, assessment: Assessment) -> dict[str, Any]:
    """The assessment as an OSCAL assessment-results document (a JSON-ready dict)."""
    version = assessment_service.version_of(session, assessment)
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    assert subcontractor is not None  # a foreign key
    checklist = assessment_service.definition(session, assessment)
    result = assessment_service.live_score(session, assessment)
    snapshot = assessment.score_snapshot or {}
    frozen = not policies.is_open(assessment.state)
    score = snapshot.get("score", result.score) if frozen else result.score
    rating = snapshot.get("rating", result.rating) if frozen else result.rating
    people = session.exec(
        select(User)
        .join(AssessmentAuditor, col(AssessmentAuditor.user_id) == User.id)
        .where(AssessmentAuditor.assessment_id == assessment.id)
    ).all()
    findings = {
        f.item_id: f
        for f in session.exec(
            select(Finding).where(Finding.assessment_id == assessment.id, Finding.current)
        ).all()
    }
    key = ("assessment", assessment.id)
    party = _uuid(*key, "party", subcontractor.id)
    plan = _uuid(*key, "plan")
    rows = _rows(session, assessment)
    resources = [
        {
            "uuid": plan,
            "title": f"Assessment plan: {checklist.title.en} {checklist.version}",
            "description": (
                f"Kansa checklist {checklist.slug} {checklist.version}, "
                f"content SHA-256 {version.content_hash}."
            ),
            "props": [{"name": "type", "value": "plan"}],
        }
    ]
    observations: list[dict[str, Any]] = []
    oscal_findings: list[dict[str, Any]] = []
    for item, answer, _email, files in rows:
        if answer is None:
            continue
        evidence = []
        for f in files:
            resource = _uuid(*key, "evidence", f.id)
            resources.append(
                {
                    "uuid": resource,
                    "title": f.filename,
                    "props": [
                        {"name": "type", "value": "evidence"},
                        _prop("sha256", f.sha256),
                        _prop("size", f.size),
                    ],
                }
            )
            evidence.append(
                {"href": f"#{resource}", "description": f"{f.filename} (sha256 {f.sha256})"}
            )
        observation = {
            "uuid": _uuid(*key, "observation", item.ref),
            "title": f"{item.ref}: {answer.status}",
            "description": answer.comment or f"Answered {answer.status}.",
            "props": [_prop("answer", answer.status), _prop("item-weight", item.weight)],
            "methods": ["EXAMINE"],
            "types": ["control-objective"],
            "subjects": [{"subject-uuid": party, "type": "party"}],
            "collected": _time(answer.answered_at),
        }
        if evidence:
            observation["relevant-evidence"] = evidence
        observations.append(observation)
        if rules.yields_finding(answer.status):
            finding = findings.get(item.id)
            oscal_findings.append(
                {
                    "uuid": _uuid(*key, "finding", item.ref),
                    "title": f"{item.ref}: {item.question_en}"[:500],
                    "description": answer.comment or item.question_en,
                    "props": [
                        _prop("severity", finding.severity if finding else "unknown"),
                        _prop("remediation-status", finding.status if finding else "open"),
                    ],
                    "target": {
                        "type": "objective-id",
                        "target-id": item.ref,
                        "status": {
                            "state": "not-satisfied",
                            "reason": "fail"
                            if answer.status == AnswerStatus.NON_COMPLIANT
                            else "other",
                        },
                    },
                    "related-observations": [{"observation-uuid": observation["uuid"]}],
                }
            )
    results: dict[str, Any] = {
        "uuid": _uuid(*key, "result"),
        "title": assessment.title,
        "description": (
            f"Assessment of {subcontractor.name} against {checklist.title.en} "
            f"{checklist.version}; state {assessment.state}."
        ),
        "start": _time(assessment.created_at),
        "props": [
            _prop("checklist", checklist.slug),
            _prop("checklist-version", checklist.version),
            _prop("state", assessment.state),
            *([_prop("score", score)] if score is not None else []),
            *([_prop("rating", rating)] if rating else []),
        ],
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": item.ref} for item, *_ in rows]}
            ]
        },
    }
    if assessment.approved_at:
        results["end"] = _time(assessment.approved_at)
    if observations:
        results["observations"] = observations
    if oscal_findings:
        results["findings"] = oscal_findings
    return {
        "assessment-results": {
            "uuid": _uuid(*key, "document"),
            "metadata": {
                "title": f"Kansa assessment {assessment.id}: {assessment.title}",
                "last-modified": _time(assessment.updated_at or assessment.created_at),
                "version": str(assessment.revision),
                "oscal-version": OSCAL_VERSION,
                "parties": [
                    {"uuid": party, "type": "organization", "name": subcontractor.name},
                    *(
                        {"uuid": _uuid("user", p.id), "type": "person", "name": p.name}
                        for p in people
                    ),
                ],
            },
            "import-ap": {"href": f"#{plan}"},
            "results": [results],
            "back-matter": {"resources": resources},
        }
    }
