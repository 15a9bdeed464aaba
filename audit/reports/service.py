"""The report use case: who may read a PDF report, and the cache of approved ones.

An approved assessment's report is a report of record: it is rendered once and kept in
``report_cache`` under its content hash, the SHA-256 of every input to the report (the report
model, the language, the format version and the template and CSS). An open assessment's report
is rendered afresh on every request and never stored: it carries a DRAFT mark and the time it
was drawn.

Findings stay editable after approval (remediation goes on), so editing a finding's plan,
owner, due date or status changes the model, hence the hash: the next request renders and
caches a new PDF, and the earlier one stays in the table under its own hash. That is intended:
the PDF always shows the plan as it stands, and any copy handed out can still be matched to
its stored bytes. Reading a report records no audit event, which would change the hash itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from ..models import ReportCache, User, utcnow
from ..services import ServiceError
from ..services.assessments import get_for
from .data import build
from .labels import LANGS
from .render import content_hash, render_pdf, report_id


@dataclass(frozen=True)
class Report:
    """A rendered (or cached) report: ``final`` when it is the report of an approved assessment."""

    pdf: bytes
    filename: str
    cached: bool
    content_hash: str
    report_id: str
    final: bool


def check_lang(lang: str | None) -> str:
    """``en`` (the default when None or empty) or ``ja``; anything else is a 400."""
    lang = lang or "en"
    if lang not in LANGS:
        raise ServiceError(
            f"unknown report language {lang[:20]!r}: use lang=en (English) or lang=ja (日本語)",
            "lang",
        )
    return lang


def report(
    session: Session,
    user: User,
    assessment_id: int,
    lang: str,
    timezone: str,
) -> Report:
    """The assessment's report for ``user``: from the cache when approved, else freshly drawn.

    ``timezone`` is the zone the report shows times in (the application's TIMEZONE). Raises
    ``NotFound`` (no such assessment), ``Forbidden`` (the user may not see it) or
    ``ServiceError`` (unknown language). A cache miss commits the new row.
    """
    lang = check_lang(lang)
    get_for(session, user, assessment_id)
    model = build(session, assessment_id, lang, timezone)
    digest = content_hash(model)
    rid = report_id(model, digest)
    filename = f"{rid}{'-ja' if lang == 'ja' else ''}.pdf"
    final = bool(model["assessment"]["final"])
    if not final:
        now = utcnow()
        pdf = render_pdf(model, digest, _local(now, timezone), _iso(now))
        return Report(pdf, filename, False, digest, rid, False)

    stored = session.get(ReportCache, digest)
    if stored is not None:
        return Report(stored.pdf, filename, True, digest, rid, True)
    pdf = render_pdf(
        model, digest, model["assessment"]["approved_at"], model["assessment"]["approved_at_iso"]
    )
    session.add(
        ReportCache(
            content_hash=digest, assessment_id=assessment_id, lang=lang, pdf=pdf, size=len(pdf)
        )
    )
    try:
        session.commit()
    except sa.exc.IntegrityError:
        # another request stored the same hash first: same inputs, so the same bytes
        session.rollback()
    return Report(pdf, filename, False, digest, rid, True)


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()
