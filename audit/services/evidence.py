"""Evidence files: stored in the database with their SHA-256, served back as attachments."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from sqlmodel import Session, col, select

from ..limits import FILE_NAME_MAX
from ..models import Assessment, ChecklistItem, Evidence, EvidenceBlob, User, id_of
from . import NotFound, Problems, ServiceError, events
from .assessments import get_for as get_assessment_for
from .assessments import require_edit

# Types a browser may show inline are still sent as attachments; everything else is opaque.
SAFE_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(raw: str | None) -> str:
    """The file's own name without any folder part; refuses NUL, control characters, dot names."""
    if raw is None or not raw.strip():
        raise ServiceError("the file has no name", "file")
    if "\x00" in raw:
        raise ServiceError("the file name contains a NUL byte", "file")
    if _CONTROL.search(raw):
        raise ServiceError("the file name contains control characters", "file")
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").split("/")[-1].strip()
    if name in ("", ".", "..") or name.startswith("."):
        raise ServiceError(f"{raw!r} is not a usable file name", "file")
    if len(name) > FILE_NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: FILE_NAME_MAX - len(ext) - 1] + dot + ext)
            if dot and len(ext) < 16
            else name[:FILE_NAME_MAX]
        )
    return name


def safe_content_type(claimed: str | None) -> str:
    """The client's type when it is on the safe list, else ``application/octet-stream``."""
    base = (claimed or "").split(";")[0].strip().lower()
    return base if base in SAFE_TYPES else "application/octet-stream"


def add(
    session: Session,
    actor: User,
    assessment: Assessment,
    *,
    filename: str | None,
    content_type: str | None,
    data: bytes,
    max_bytes: int,
    item_ref: str | None = None,
) -> Evidence:
    """Attach a file to an assessment (and optionally one of its items)."""
    require_edit(session, actor, assessment)
    problems = Problems()
    name = ""
    if not filename and not data:
        problems.add("file", "choose a file to upload")
    else:
        try:
            name = clean_filename(filename)
        except ServiceError as exc:
            problems.add("file", exc.message)
    if filename and not data:
        problems.add("file", "the file is empty")
    elif len(data) > max_bytes:
        problems.add("file", f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    item_id = None
    if item_ref:
        item_id = session.exec(
            select(ChecklistItem.id).where(
                ChecklistItem.version_id == assessment.checklist_version_id,
                ChecklistItem.ref == item_ref,
            )
        ).first()
        if item_id is None:
            problems.add("item_ref", f"item {item_ref} is not in this checklist version")
    problems.check()
    digest = hashlib.sha256(data).hexdigest()
    evidence = Evidence(
        assessment_id=id_of(assessment),
        item_id=item_id,
        filename=name,
        content_type=safe_content_type(content_type),
        size=len(data),
        sha256=digest,
        uploaded_by_id=actor.id,
    )
    session.add(evidence)
    session.flush()
    session.add(EvidenceBlob(evidence_id=id_of(evidence), data=data))
    events.record(
        session,
        actor,
        "evidence.added",
        "evidence",
        evidence.id,
        assessment_id=assessment.id,
        after={"filename": name, "size": len(data), "sha256": digest, "item": item_ref},
    )
    return evidence


def for_assessment(
    session: Session, assessment: Assessment, uploaded_since: datetime | None = None
) -> list[tuple[Evidence, str | None]]:
    """Evidence metadata (never the bytes) with the item ref each file belongs to.

    Oldest first, then by id; ``uploaded_since`` keeps those uploaded at or after it.
    """
    statement = (
        select(Evidence, ChecklistItem.ref)
        .outerjoin(ChecklistItem, col(ChecklistItem.id) == Evidence.item_id)
        .where(Evidence.assessment_id == assessment.id)
        .order_by(col(Evidence.uploaded_at), col(Evidence.id))
    )
    if uploaded_since is not None:
        statement = statement.where(col(Evidence.uploaded_at) >= uploaded_since)
    return list(session.exec(statement).all())


def get(session: Session, user: User, evidence_id: int) -> tuple[Evidence, str | None]:
    """An evidence file's metadata and the ref of its item, if ``user`` may read its assessment."""
    row = session.exec(
        select(Evidence, ChecklistItem.ref)
        .outerjoin(ChecklistItem, col(ChecklistItem.id) == Evidence.item_id)
        .where(Evidence.id == evidence_id)
    ).first()
    if row is None:
        raise NotFound(f"no evidence {evidence_id}")
    evidence, ref = row
    get_assessment_for(session, user, evidence.assessment_id)
    return evidence, ref


def content(session: Session, user: User, evidence_id: int) -> tuple[Evidence, bytes]:
    """An evidence file and its bytes, if ``user`` may read its assessment."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"no evidence {evidence_id}")
    get_assessment_for(session, user, evidence.assessment_id)
    blob = session.get(EvidenceBlob, evidence_id)
    assert blob is not None  # written with the evidence row
    return evidence, blob.data
