"""The report model: every fact the PDF shows, read from the database in a fixed number of queries.

``build()`` returns plain JSON-able data (dicts, lists, strings, numbers). The model is the
whole input of the report: its canonical JSON, with the language and the format version, is
hashed into the report's content hash, so two equal models give the same PDF and an approved
report can be served from the cache by that hash. Nothing here reads the clock; times are
formatted in the configured zone so that the formatted text, not the instant, is what is hashed.

Queries, whatever the number of items: assessment, subcontractor, checklist version, auditors
and reviewer, answers, evidence metadata (never the bytes), findings, latest audit events.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from .. import rules
from ..checklists import DEFAULT_BANDS, FRAMEWORKS, ChecklistDefinition
from ..models import (
    Answer,
    Assessment,
    AssessmentAuditor,
    AuditEvent,
    ChecklistItem,
    ChecklistVersion,
    Evidence,
    Finding,
    Subcontractor,
    User,
)
from ..services import NotFound
from ..services.checklists import definition_for
from ..vocabulary import AssessmentState, ItemState, Severity
from .labels import LANGS, cap_sentence, reference_label

#: Bump when the model's shape or meaning changes (the template and CSS are hashed on their own).
REPORT_FORMAT_VERSION = "1"

#: How many of the assessment's latest audit events the sign-off page lists.
EVENT_LIMIT = 20

#: Longest finding title in the Japanese report, in characters (English uses the stored title).
TITLE_MAX_JA = 80

_SEVERITY_ORDER = {s.value: i for i, s in enumerate(Severity)}
_NUMBERS = re.compile(r"(\d+)")


def build(session: Session, assessment_id: int, lang: str, timezone: str) -> dict[str, Any]:
    """The report model of one assessment in ``lang`` (``en`` or ``ja``), times in ``timezone``."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r}")
    zone = ZoneInfo(timezone)
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    version = session.get(ChecklistVersion, assessment.checklist_version_id)
    assert subcontractor is not None and version is not None  # foreign keys
    checklist = definition_for(version)

    people = _people(session, assessment)
    answers = {
        ref: answer
        for ref, answer in session.exec(
            select(ChecklistItem.ref, Answer)
            .join(Answer, col(Answer.item_id) == ChecklistItem.id)
            .where(Answer.assessment_id == assessment.id)
        ).all()
    }
    states = {ref: a.status for ref, a in answers.items()}
    result = rules.score(checklist, states)
    all_states = {
        item.ref: states.get(item.ref, ItemState.UNANSWERED) for item in checklist.items()
    }

    evidence: dict[str | None, list[dict[str, Any]]] = {}
    for row, ref in session.exec(
        select(Evidence, ChecklistItem.ref)
        .outerjoin(ChecklistItem, col(ChecklistItem.id) == Evidence.item_id)
        .where(Evidence.assessment_id == assessment.id)
        .order_by(col(Evidence.uploaded_at), col(Evidence.id))
    ).all():
        evidence.setdefault(ref, []).append(
            {"filename": row.filename, "size": row.size, "sha256": row.sha256}
        )

    finding_rows, finding_refs = _findings(session, assessment, checklist, lang)
    return {
        "format": REPORT_FORMAT_VERSION,
        "lang": lang,
        "timezone": timezone,
        "assessment": {
            "id": assessment.id,
            "title": assessment.title,
            "state": assessment.state,
            "final": assessment.state == AssessmentState.APPROVED,
            "period_start": _date(assessment.period_start),
            "period_end": _date(assessment.period_end),
            "due_date": _date(assessment.due_date),
            "submitted_at": _time(assessment.submitted_at, zone),
            "approved_at": _time(assessment.approved_at, zone),
            "approved_at_iso": _iso(assessment.approved_at),
            "review_comment": assessment.review_comment or "",
        },
        "subcontractor": {
            "name": subcontractor.name,
            "country": subcontractor.country,
            "tier": subcontractor.tier,
        },
        "checklist": {
            "slug": checklist.slug,
            "title": checklist.title.get(lang),
            "version": checklist.version,
            "content_hash": version.content_hash,
            "effective_date": checklist.effective_date,
        },
        "auditors": people["auditors"],
        "reviewer": people["reviewer"],
        "score": _score(result, checklist, lang, all_states),
        "findings": finding_rows,
        "coverage": _coverage(result),
        "sections": _sections(checklist, result, answers, evidence, lang),
        "evidence_general": evidence.get(None, []),
        "events": _events(session, assessment, zone, finding_refs),
    }


# ------------------------------------------------------------------------------ parts


def _people(session: Session, assessment: Assessment) -> dict[str, Any]:
    """Auditor names (sorted) and the reviewer's name, in one query."""
    auditor_ids = select(AssessmentAuditor.user_id).where(
        AssessmentAuditor.assessment_id == assessment.id
    )
    condition: Any = col(User.id).in_(auditor_ids)
    if assessment.reviewer_id is not None:
        condition = condition | (col(User.id) == assessment.reviewer_id)
    rows = session.exec(
        select(User, col(User.id).in_(auditor_ids))
        .where(condition)
        .order_by(col(User.name), col(User.id))
    ).all()
    auditors = [user.name for user, is_auditor in rows if is_auditor]
    reviewer = next((u.name for u, _ in rows if u.id == assessment.reviewer_id), None)
    return {"auditors": auditors, "reviewer": reviewer}


def _score(
    result: rules.ScoreResult, checklist: ChecklistDefinition, lang: str, states: dict[str, str]
) -> dict[str, Any]:
    data = result.as_dict()
    return {
        "bands": {**DEFAULT_BANDS, **checklist.scoring.bands},
        "score": data["score"],
        "rating": data["rating"],
        "band_rating": data["band_rating"],
        "provisional": data["provisional"],
        "completion": data["completion"],
        "counts": data["counts"],
        "caps": [
            {
                "rule": cap["rule"],
                "items": cap["items"],
                "max_rating": cap["max_rating"],
                "applied": cap["applied"],
                "sentence": cap_sentence(cap, lang, states),
            }
            for cap in data["caps"]
        ],
    }


def _findings(
    session: Session, assessment: Assessment, checklist: ChecklistDefinition, lang: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Current findings, most severe first, then in checklist order; and every finding's ref."""
    index = checklist.item_index()
    position = {ref: i for i, ref in enumerate(index)}
    rows = session.exec(
        select(Finding, ChecklistItem.ref)
        .join(ChecklistItem, col(ChecklistItem.id) == Finding.item_id)
        .where(Finding.assessment_id == assessment.id)
    ).all()
    found = []
    for finding, ref in rows:
        if not finding.current:
            continue
        item = index.get(ref)
        title = finding.title
        if lang == "ja" and item is not None and item.question.ja:
            title = _shorten(item.question.ja, TITLE_MAX_JA)
        found.append(
            {
                "ref": ref,
                "section_ref": item.section_ref if item else "",
                "severity": finding.severity,
                "title": title,
                "plan": finding.remediation_plan,
                "owner": finding.owner,
                "due_date": _date(finding.due_date),
                "status": finding.status,
            }
        )
    found.sort(
        key=lambda f: (
            _SEVERITY_ORDER[str(f["severity"])],
            position.get(str(f["ref"]), 0),
            f["ref"],
        )
    )
    return found, {str(finding.id): ref for finding, ref in rows}


def _coverage(result: rules.ScoreResult) -> list[dict[str, Any]]:
    """Source points grouped by framework (in the schema's order), naturally sorted within."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for ref in result.references:
        groups.setdefault(ref.framework, []).append(
            {
                "key": ref.key,
                "label": reference_label(ref.framework, ref.id),
                "id": ref.id,
                "items": list(ref.items),
                "score": ref.score,
            }
        )
    order = {name: i for i, name in enumerate(FRAMEWORKS)}
    return [
        {"framework": name, "points": sorted(points, key=lambda p: _natural(p["id"]))}
        for name, points in sorted(groups.items(), key=lambda kv: order.get(kv[0], len(order)))
    ]


def _sections(
    checklist: ChecklistDefinition,
    result: rules.ScoreResult,
    answers: dict[str, Answer],
    evidence: dict[str | None, list[dict[str, Any]]],
    lang: str,
) -> list[dict[str, Any]]:
    scores = {s.ref: s for s in result.sections}
    sections = []
    for section in checklist.sections:
        score = scores[section.ref]
        items = []
        for item in section.items:
            answer = answers.get(item.ref)
            items.append(
                {
                    "ref": item.ref,
                    "question": item.question.get(lang),
                    "answer": answer.status if answer else ItemState.UNANSWERED,
                    "comment": answer.comment if answer else "",
                    "weight": item.weight,
                    "critical": item.critical,
                    "evidence": evidence.get(item.ref, []),
                }
            )
        sections.append(
            {
                "ref": section.ref,
                "title": section.title.get(lang),
                "score": score.score,
                "completion": score.completion,
                "counts": score.counts.as_dict(),
                "items": items,
            }
        )
    return sections


def _events(
    session: Session, assessment: Assessment, zone: ZoneInfo, finding_refs: dict[str, str]
) -> list[dict[str, Any]]:
    """The latest audit events of the assessment, newest first."""
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.assessment_id == assessment.id)
        .order_by(col(AuditEvent.id).desc())
        .limit(EVENT_LIMIT)
    ).all()
    return [
        {
            "id": event.id,
            "at": _time(event.occurred_at, zone),
            "actor": event.actor,
            "action": event.action,
            "object": _object(event, finding_refs),
            "hash": event.hash[:12],
        }
        for event in rows
    ]


def _object(event: AuditEvent, finding_refs: dict[str, str]) -> str:
    """A short name of what the event touched: an item ref, a file name, or nothing."""
    if event.object_type == "answer":
        return event.object_id.split(":", 1)[-1]
    if event.object_type == "assessment":
        return ""
    if event.object_type == "finding" and event.object_id in finding_refs:
        return finding_refs[event.object_id]
    if event.object_type == "evidence" and event.after:
        return str(event.after.get("filename") or f"evidence {event.object_id}")
    return f"{event.object_type} {event.object_id}"


# ------------------------------------------------------------------------------ formatting


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if value else None


def _iso(value: datetime | None) -> str | None:
    """UTC, to the second: what the PDF's creation and modification dates are made from."""
    return value.replace(microsecond=0).isoformat() if value else None


def _natural(text: str) -> list[Any]:
    """Sort key that puts ``Art. 9`` before ``Art. 10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in _NUMBERS.split(text)]


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
