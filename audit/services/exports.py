"""Exports: answers as CSV; NIST OSCAL 1.1 assessment-results and plan-of-action-and-milestones.

OSCAL mapping (see shared/domain/oscal.md): the assessment is one ``result`` whose ``start`` and
``end`` are its audit period; each checklist item is a ``control-id`` under
``reviewed-controls``; each answer an ``observation``; each partial or non-compliant answer a
``finding`` targeting the item as an objective; the subcontractor a ``party`` (organisation),
its auditors and reviewer parties (persons) with the roles ``ROLES`` defines; submission and
approval ``assessment-log`` entries logged by the person who did them; score, rating and
checklist version ``props`` in Kansa's namespace; evidence files ``back-matter`` resources whose
``rlinks`` carry the download link and the file's SHA-256 as OSCAL ``hashes``.

A POA&M lists findings as ``poam-items``, each with its ``finding``, the ``observation`` (the
answer) it came from and a ``risk`` holding its status, deadline (the due date) and remediation
(the plan, a milestone on the due date, the owner as a party in the ``remediation-owner`` role).

Every UUID is a UUID 5 of a stable name (``subcontractor/7``, ``assessment/3/finding/SO-3.1``)
in the installation's own random namespace (``services.installation``): exporting again gives
the same identifiers, the same subcontractor or person is the same party in every document,
the same finding has the same UUID in the assessment results and in the POA&M, and two
installations never collide.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from .. import policies, rules
from ..models import (
    Answer,
    Assessment,
    AssessmentAuditor,
    AuditEvent,
    ChecklistItem,
    Evidence,
    Finding,
    Subcontractor,
    User,
    id_of,
    utcnow,
)
from ..vocabulary import AnswerStatus, FindingStatus
from . import Forbidden, NotFound, installation, visibility
from . import assessments as assessment_service
from . import findings as finding_service

#: the OSCAL release the documents follow, the one whose JSON schemas the tests check them with
OSCAL_VERSION = "1.1.3"
NS = "urn:kansa:oscal"
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


def _files(
    session: Session, assessment_ids: Iterable[int]
) -> dict[tuple[int, int | None], list[Evidence]]:
    """Evidence files by (assessment, item), oldest first; item None is the whole assessment."""
    files: dict[tuple[int, int | None], list[Evidence]] = {}
    wanted = list(assessment_ids)
    if not wanted:
        return files
    for f in session.exec(
        select(Evidence).where(col(Evidence.assessment_id).in_(wanted)).order_by(col(Evidence.id))
    ):
        files.setdefault((f.assessment_id, f.item_id), []).append(f)
    return files


def _rows(session: Session, assessment: Assessment) -> list[tuple[Any, ...]]:
    answers: dict[int | None, tuple[Answer | None, str | None]] = {
        a.item_id: (a, email)
        for a, email in session.exec(
            select(Answer, User.email)
            .outerjoin(User, col(User.id) == Answer.answered_by_id)
            .where(Answer.assessment_id == assessment.id)
        ).all()
    }
    aid = id_of(assessment)
    files = _files(session, [aid])
    items = session.exec(
        select(ChecklistItem)
        .where(ChecklistItem.version_id == assessment.checklist_version_id)
        .order_by(col(ChecklistItem.section_id), col(ChecklistItem.position))
    ).all()
    return [
        (item, *answers.get(item.id, (None, None)), files.get((aid, item.id), [])) for item in items
    ]


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


# ------------------------------------------------------------------------------ OSCAL: common


@dataclass(frozen=True)
class OscalLinks:
    """What an OSCAL export needs from its caller: where files are, and the users' time zone.

    ``evidence_url`` gives the absolute URL at which an evidence file (by id) is downloaded;
    ``timezone`` is the zone in which an assessment's period and a finding's due date are days.
    """

    evidence_url: Callable[[int], str]
    timezone: str = "UTC"

    def day_start(self, day: date) -> str:
        return _time(datetime.combine(day, time.min, ZoneInfo(self.timezone)))

    def day_end(self, day: date) -> str:
        return _time(datetime.combine(day, time(23, 59, 59), ZoneInfo(self.timezone)))


#: The roles parties play in Kansa's OSCAL documents (``metadata.roles``).
ROLES = {
    "auditor": ("Auditor", "Assesses the subcontractor: answers the checklist, collects evidence."),
    "reviewer": ("Reviewer", "Reviews the submitted assessment and approves or returns it."),
    "assessed-organisation": ("Assessed organisation", "The subcontractor assessed."),
    "remediation-owner": ("Remediation owner", "Owns the remediation of a finding."),
}

#: How a finding's remediation status reads as an OSCAL risk status.
RISK_STATUS = {
    FindingStatus.OPEN: "open",
    FindingStatus.IN_REMEDIATION: "remediating",
    FindingStatus.RISK_ACCEPTED: "deviation-approved",
    FindingStatus.CLOSED: "closed",
}


class _Ids:
    """UUID 5s of stable names in the installation's namespace."""

    def __init__(self, session: Session) -> None:
        self.space = installation.namespace(session)

    def __call__(self, *parts: Any) -> str:
        return installation.uuid_in(self.space, *parts)


def _time(moment: datetime | None) -> str:
    return (moment or utcnow()).isoformat(timespec="seconds")


def _prop(name: str, value: Any) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value)}


class _Parties:
    """The parties of one document, each once, and who plays which role."""

    def __init__(self, ids: _Ids) -> None:
        self.ids = ids
        self.parties: dict[str, dict[str, Any]] = {}
        self.roles: dict[str, list[str]] = {}

    def _add(self, role: str | None, party: dict[str, Any]) -> str:
        self.parties.setdefault(party["uuid"], party)
        if role is not None and party["uuid"] not in self.roles.setdefault(role, []):
            self.roles[role].append(party["uuid"])
        return str(party["uuid"])

    def organisation(self, subcontractor: Subcontractor, role: str | None = None) -> str:
        uid = self.ids("subcontractor", subcontractor.id)
        return self._add(role, {"uuid": uid, "type": "organization", "name": subcontractor.name})

    def person(self, user: User, role: str | None = None) -> str:
        return self._add(
            role, {"uuid": self.ids("user", user.id), "type": "person", "name": user.name}
        )

    def owner(self, owner: str) -> str:
        """A finding's owner, as written on it: the same text is the same party."""
        uid = self.ids("owner", " ".join(owner.split()).casefold())
        return self._add(
            "remediation-owner",
            {
                "uuid": uid,
                "type": "person",
                "name": owner,
                "remarks": "The owner as written on the finding (a person or a team).",
            },
        )

    def metadata(self) -> dict[str, Any]:
        used = [r for r in ROLES if self.roles.get(r)]
        data: dict[str, Any] = {}
        if used:
            data["roles"] = [
                {"id": r, "title": ROLES[r][0], "description": ROLES[r][1]} for r in used
            ]
        if self.parties:
            data["parties"] = list(self.parties.values())
        if used:
            data["responsible-parties"] = [
                {"role-id": r, "party-uuids": self.roles[r]} for r in used
            ]
        return data


def _evidence_resource(
    ids: _Ids, links: OscalLinks, f: Evidence, ref: str | None
) -> dict[str, Any]:
    about = f"evidence for {ref}" if ref else "evidence for the assessment as a whole"
    return {
        "uuid": ids("evidence", f.id),
        "title": f.filename,
        "description": f"{f.filename}: {about}, {f.size:,} bytes, uploaded {_time(f.uploaded_at)}.",
        "props": [{"name": "type", "value": "evidence"}, _prop("size", f.size)],
        "rlinks": [
            {
                "href": links.evidence_url(id_of(f)),
                "media-type": f.content_type,
                "hashes": [{"algorithm": "SHA-256", "value": f.sha256}],
            }
        ],
    }


def _observation(
    ids: _Ids,
    assessment_id: int,
    item: ChecklistItem,
    answer: Answer,
    subject: str,
    evidence: Sequence[Evidence],
) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "uuid": ids("assessment", assessment_id, "observation", item.ref),
        "title": f"{item.ref}: {answer.status}",
        "description": answer.comment or f"Answered {answer.status}.",
        "props": [_prop("answer", answer.status), _prop("item-weight", item.weight)],
        "methods": ["EXAMINE"],
        "types": ["control-objective"],
        "subjects": [{"subject-uuid": subject, "type": "party"}],
        "collected": _time(answer.answered_at),
    }
    if evidence:
        observation["relevant-evidence"] = [
            {
                "href": f"#{ids('evidence', f.id)}",
                "description": f"{f.filename} (SHA-256 {f.sha256})",
            }
            for f in evidence
        ]
    return observation


def _finding(
    ids: _Ids,
    assessment_id: int,
    item: ChecklistItem,
    answer: Answer | None,
    finding: Finding | None,
    *,
    risk: bool = False,
) -> dict[str, Any]:
    status = answer.status if answer else AnswerStatus.NON_COMPLIANT
    data: dict[str, Any] = {
        "uuid": ids("assessment", assessment_id, "finding", item.ref),
        "title": f"{item.ref}: {item.question_en}"[:500],
        "description": (answer.comment if answer else "") or item.question_en,
        "props": [
            _prop("severity", finding.severity if finding else "unknown"),
            _prop("remediation-status", finding.status if finding else FindingStatus.OPEN),
            *([_prop("finding-id", finding.id)] if finding else []),
        ],
        "target": {
            "type": "objective-id",
            "target-id": item.ref,
            "status": {
                "state": "not-satisfied",
                "reason": "fail" if status == AnswerStatus.NON_COMPLIANT else "other",
            },
        },
    }
    if answer is not None:
        data["related-observations"] = [
            {"observation-uuid": ids("assessment", assessment_id, "observation", item.ref)}
        ]
    if risk:
        data["related-risks"] = [{"risk-uuid": ids("assessment", assessment_id, "risk", item.ref)}]
    return data


def _auditors(session: Session, assessment_ids: Iterable[int]) -> dict[int, list[User]]:
    people: dict[int, list[User]] = {}
    wanted = list(assessment_ids)
    if not wanted:
        return people
    for assessment_id, user in session.exec(
        select(AssessmentAuditor.assessment_id, User)
        .join(User, col(User.id) == AssessmentAuditor.user_id)
        .where(col(AssessmentAuditor.assessment_id).in_(wanted))
        .order_by(col(User.id))
    ).all():
        people.setdefault(assessment_id, []).append(user)
    return people


# ------------------------------------------------------------------------------ assessment results


def _last_event(session: Session, assessment: Assessment, action: str) -> AuditEvent | None:
    return session.exec(
        select(AuditEvent)
        .where(AuditEvent.assessment_id == assessment.id, AuditEvent.action == action)
        .order_by(col(AuditEvent.id).desc())
    ).first()


def _log_entry(
    session: Session,
    ids: _Ids,
    parties: _Parties,
    assessment: Assessment,
    *,
    action: str,
    name: str,
    title: str,
    role: str,
    moment: datetime,
    fallback: User | None,
    remarks: str | None = None,
) -> dict[str, Any]:
    """One recorded step of the workflow, logged by the person who took it (from the trail)."""
    event = _last_event(session, assessment, action)
    actor = session.get(User, event.actor_id) if event and event.actor_id else None
    actor = actor or fallback
    who = actor.name if actor else event.actor if event else "an unknown person"
    entry: dict[str, Any] = {
        "uuid": ids("assessment", assessment.id, "log", name),
        "title": title,
        "description": f"{title} by {who}.",
        "start": _time(event.occurred_at if event else moment),
        "props": [_prop("action", action)],
    }
    if event is not None:
        entry["props"].append(_prop("audit-event-hash", event.hash))
    if actor is not None:
        entry["logged-by"] = [{"party-uuid": parties.person(actor), "role-id": role}]
    if remarks:
        entry["remarks"] = remarks
    return entry


def oscal_assessment_results(
    session: Session, assessment: Assessment, links: OscalLinks
) -> dict[str, Any]:
    """The assessment as an OSCAL assessment-results document (a JSON-ready dict)."""
    ids = _Ids(session)
    aid = assessment.id
    assert aid is not None  # stored
    version = assessment_service.version_of(session, assessment)
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    assert subcontractor is not None  # a foreign key
    checklist = assessment_service.definition(session, assessment)
    result = assessment_service.live_score(session, assessment)
    snapshot = assessment.score_snapshot or {}
    frozen = not policies.is_open(assessment.state)
    score = snapshot.get("score", result.score) if frozen else result.score
    rating = snapshot.get("rating", result.rating) if frozen else result.rating
    parties = _Parties(ids)
    party = parties.organisation(subcontractor, "assessed-organisation")
    for auditor in _auditors(session, [aid]).get(aid, []):
        parties.person(auditor, "auditor")
    reviewer = session.get(User, assessment.reviewer_id) if assessment.reviewer_id else None
    if reviewer is not None:
        parties.person(reviewer, "reviewer")
    findings = {
        f.item_id: f
        for f in session.exec(
            select(Finding).where(Finding.assessment_id == aid, Finding.current)
        ).all()
    }
    plan = ids("assessment", aid, "plan")
    rows = _rows(session, assessment)
    files = _files(session, [aid])
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
    for item, answer, _email, item_files in rows:
        resources.extend(_evidence_resource(ids, links, f, item.ref) for f in item_files)
        if answer is None:
            continue
        observations.append(_observation(ids, aid, item, answer, party, item_files))
        if rules.yields_finding(answer.status):
            oscal_findings.append(_finding(ids, aid, item, answer, findings.get(item.id)))
    resources.extend(_evidence_resource(ids, links, f, None) for f in files.get((aid, None), []))
    log: list[dict[str, Any]] = []
    if assessment.submitted_at is not None:
        log.append(
            _log_entry(
                session,
                ids,
                parties,
                assessment,
                action="assessment.submitted",
                name="submission",
                title="Submitted for review",
                role="auditor",
                moment=assessment.submitted_at,
                fallback=None,
            )
        )
    if assessment.approved_at is not None:
        log.append(
            _log_entry(
                session,
                ids,
                parties,
                assessment,
                action="assessment.approved",
                name="approval",
                title="Approved",
                role="reviewer",
                moment=assessment.approved_at,
                fallback=reviewer,
                remarks=assessment.review_comment,
            )
        )
    results: dict[str, Any] = {
        "uuid": ids("assessment", aid, "result"),
        "title": assessment.title,
        "description": (
            f"Assessment of {subcontractor.name} against {checklist.title.en} "
            f"{checklist.version}; state {assessment.state}."
        ),
        # the audit period; without one, from the assessment's creation
        "start": (
            links.day_start(assessment.period_start)
            if assessment.period_start
            else _time(assessment.created_at)
        ),
        "props": [
            _prop("checklist", checklist.slug),
            _prop("checklist-version", checklist.version),
            _prop("state", assessment.state),
            *([_prop("score", score)] if score is not None else []),
            *([_prop("rating", rating)] if rating else []),
            *(
                [_prop("approved-at", _time(assessment.approved_at))]
                if assessment.approved_at
                else []
            ),
        ],
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": item.ref} for item, *_ in rows]}
            ]
        },
    }
    if assessment.period_end:
        results["end"] = links.day_end(assessment.period_end)
    elif assessment.approved_at:
        results["end"] = _time(assessment.approved_at)
    if log:
        results["assessment-log"] = {"entries": log}
    if observations:
        results["observations"] = observations
    if oscal_findings:
        results["findings"] = oscal_findings
    return {
        "assessment-results": {
            "uuid": ids("assessment", aid, "assessment-results"),
            "metadata": {
                "title": f"Kansa assessment {aid}: {assessment.title}",
                "last-modified": _time(assessment.updated_at or assessment.created_at),
                "version": str(assessment.revision),
                "oscal-version": OSCAL_VERSION,
                **parties.metadata(),
            },
            "import-ap": {"href": f"#{plan}"},
            "results": [results],
            "back-matter": {"resources": resources},
        }
    }


# ------------------------------------------------------------------------------ POA&M


def _poam_rows(
    session: Session,
    filters: finding_service.FindingFilters,
    unresolved: bool,
    within: visibility.Scope,
) -> list[Any]:
    """(finding, item, assessment, subcontractor, answer) of the findings ``filters`` keep.

    Only findings ``within`` the reader's sight (``visibility.scope``).
    """
    statement = (
        finding_service.search(filters, within=within)
        .add_columns(ChecklistItem, Assessment, Subcontractor, Answer)
        .outerjoin(
            Answer,
            sa.and_(
                col(Answer.assessment_id) == Finding.assessment_id,
                col(Answer.item_id) == Finding.item_id,
            ),
        )
    )
    if unresolved:
        statement = statement.where(col(Finding.status).in_(policies.UNRESOLVED_FINDING_STATUSES))
    return [(row[0], *row[4:]) for row in session.exec(statement).all()]


def _poam(
    session: Session,
    ids: _Ids,
    links: OscalLinks,
    rows: Sequence[Any],
    *,
    uuid_name: Sequence[Any],
    title: str,
    system: str,
) -> dict[str, Any]:
    parties = _Parties(ids)
    assessment_ids = sorted({a.id for _, _, a, _, _ in rows})
    auditors = _auditors(session, assessment_ids)
    files = _files(session, assessment_ids)
    observations: list[dict[str, Any]] = []
    risks: list[dict[str, Any]] = []
    oscal_findings: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    changed: list[datetime] = []
    for finding, item, assessment, subcontractor, answer in rows:
        aid = assessment.id
        subject = parties.organisation(subcontractor, "assessed-organisation")
        finders = [parties.person(u, "auditor") for u in auditors.get(aid, [])]
        changed.append(finding.updated_at or finding.created_at)
        item_files = files.get((aid, item.id), [])
        resources.extend(_evidence_resource(ids, links, f, item.ref) for f in item_files)
        related: dict[str, Any] = {}
        if answer is not None:
            observations.append(_observation(ids, aid, item, answer, subject, item_files))
            related["related-observations"] = [
                {"observation-uuid": ids("assessment", aid, "observation", item.ref)}
            ]
        risk_uuid = ids("assessment", aid, "risk", item.ref)
        finding_uuid = ids("assessment", aid, "finding", item.ref)
        oscal_findings.append(_finding(ids, aid, item, answer, finding, risk=True))
        deadline = links.day_end(finding.due_date) if finding.due_date else None
        remediation: dict[str, Any] = {
            "uuid": ids("assessment", aid, "remediation", item.ref),
            "lifecycle": "completed" if finding.status == FindingStatus.CLOSED else "planned",
            "title": f"Remediation of {item.ref}",
            "description": finding.remediation_plan or "No remediation plan written yet.",
        }
        if finding.due_date or finding.owner:
            task: dict[str, Any] = {
                "uuid": ids("assessment", aid, "milestone", item.ref),
                "type": "milestone",
                "title": f"{item.ref} remediated",
                "description": "The remediation is done by its due date.",
            }
            if deadline:
                task["timing"] = {"on-date": {"date": deadline}}
            if finding.owner:
                task["responsible-roles"] = [
                    {"role-id": "remediation-owner", "party-uuids": [parties.owner(finding.owner)]}
                ]
            remediation["tasks"] = [task]
        risk: dict[str, Any] = {
            "uuid": risk_uuid,
            "title": f"{item.ref}: {finding.title}"[:500],
            "description": (answer.comment if answer else "") or item.question_en,
            "statement": (
                f"Until it is remediated, {subcontractor.name} does not meet {item.ref} "
                f"({item.question_en}), a {finding.severity} finding of the assessment "
                f"“{assessment.title}”."
            ),
            "props": [_prop("severity", finding.severity)],
            "status": RISK_STATUS.get(FindingStatus(finding.status), "open"),
            "remediations": [remediation],
            **related,
        }
        if deadline:
            risk["deadline"] = deadline
        risks.append(risk)
        poam_item: dict[str, Any] = {
            "uuid": ids("assessment", aid, "poam-item", item.ref),
            "title": f"{item.ref}: {finding.title}"[:500],
            "description": finding.remediation_plan or finding.title,
            "props": [
                _prop("severity", finding.severity),
                _prop("remediation-status", finding.status),
                _prop("finding-id", finding.id),
                _prop("assessment-id", aid),
                *([_prop("owner", finding.owner)] if finding.owner else []),
                *([_prop("due-date", finding.due_date.isoformat())] if finding.due_date else []),
            ],
            "related-findings": [{"finding-uuid": finding_uuid}],
            **related,
            "related-risks": [{"risk-uuid": risk_uuid}],
        }
        if finders:
            poam_item["origins"] = [
                {
                    "actors": [
                        {"type": "party", "actor-uuid": p, "role-id": "auditor"} for p in finders
                    ]
                }
            ]
        items.append(poam_item)
    last = max(changed)
    document: dict[str, Any] = {
        "uuid": ids(*uuid_name),
        "metadata": {
            "title": title,
            "last-modified": _time(last),
            "version": _time(last),
            "oscal-version": OSCAL_VERSION,
            **parties.metadata(),
        },
        "system-id": {"identifier-type": "https://ietf.org/rfc/rfc4122", "id": system},
    }
    if observations:
        document["observations"] = observations
    document["risks"] = risks
    document["findings"] = oscal_findings
    document["poam-items"] = items
    if resources:
        document["back-matter"] = {"resources": resources}
    return {"plan-of-action-and-milestones": document}


def oscal_poam(session: Session, assessment: Assessment, links: OscalLinks) -> dict[str, Any]:
    """The assessment's current findings, whatever their status, as an OSCAL POA&M.

    ``NotFound`` when it has none: a POA&M lists at least one item.
    """
    ids = _Ids(session)
    rows = _poam_rows(  # the caller read the assessment through ``get_for``: it is in sight
        session,
        finding_service.FindingFilters(assessment_id=assessment.id, current=True),
        False,
        visibility.UNLIMITED,
    )
    if not rows:
        raise NotFound(
            f"assessment {assessment.id} has no findings, so there is no plan of action: "
            "a POA&M lists at least one item"
        )
    subcontractor = rows[0][3]
    return _poam(
        session,
        ids,
        links,
        rows,
        uuid_name=("assessment", assessment.id, "poam"),
        title=f"Kansa POA&M of assessment {assessment.id}: {assessment.title}",
        system=ids("subcontractor", subcontractor.id, "system"),
    )


def oscal_open_poam(session: Session, actor: User, links: OscalLinks) -> dict[str, Any]:
    """Every unresolved finding (open or in remediation) of every assessment, as one POA&M.

    ``actor`` must be allowed to read assessments; ``NotFound`` when there is no unresolved
    finding: a POA&M lists at least one item.
    """
    if not policies.may_view(actor):
        raise Forbidden("you may not read assessments or their findings")
    ids = _Ids(session)
    rows = _poam_rows(
        session,
        finding_service.FindingFilters(current=True),
        True,
        visibility.scope(session, actor),
    )
    if not rows:
        raise NotFound("there are no open findings, so there is no plan of action")
    return _poam(
        session,
        ids,
        links,
        rows,
        uuid_name=("poam", "open-findings"),
        title="Kansa POA&M: every open finding",
        system=ids("subcontractors"),
    )
