"""PDF reports: who may read them, and the cache of approved ones.

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

from .. import reports
from ..models import Assessment, ReportCache, User, utcnow
from . import Forbidden, NotFound, ServiceError
from .assessments import can_view

DEFAULT_TIMEZONE = "Asia/Tokyo"


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
    if lang not in reports.LANGS:
        raise ServiceError(
            f"unknown report language {lang[:20]!r}: use lang=en (English) or lang=ja (日本語)",
            "lang",
        )
    return lang


def report(
    session: Session,
    user: User,
    assessment_id: int,
    lang: str = "en",
    timezone: str | None = None,
) -> Report:
    """The assessment's report for ``user``: from the cache when approved, else freshly drawn.

    Raises ``NotFound`` (no such assessment), ``Forbidden`` (the user may not see it) or
    ``ServiceError`` (unknown language). A cache miss commits the new row.
    """
    lang = check_lang(lang)
    timezone = timezone or _app_timezone()
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFound(f"no assessment {assessment_id}")
    if not can_view(user, assessment):
        raise Forbidden("you may not read this assessment")
    model = reports.build(session, assessment_id, lang, timezone)
    digest = reports.content_hash(model)
    rid = reports.report_id(model, digest)
    filename = f"{rid}{'-ja' if lang == 'ja' else ''}.pdf"
    final = bool(model["assessment"]["final"])
    if not final:
        now = utcnow()
        pdf = reports.render_pdf(model, digest, _local(now, timezone), _iso(now))
        return Report(pdf, filename, False, digest, rid, False)

    stored = session.get(ReportCache, digest)
    if stored is not None:
        return Report(stored.pdf, filename, True, digest, rid, True)
    pdf = reports.render_pdf(
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


def get_report(
    session: Session, user: User, assessment_id: int, lang: str = "en"
) -> tuple[bytes, str, bool]:
    """``(pdf_bytes, filename, cached)`` of the assessment's report (see ``report``)."""
    made = report(session, user, assessment_id, lang)
    return made.pdf, made.filename, made.cached


def _app_timezone() -> str:
    """The application's TIMEZONE inside an app context, else Kansa's default zone."""
    from flask import current_app, has_app_context

    if has_app_context():
        return str(current_app.config.get("TIMEZONE") or DEFAULT_TIMEZONE)
    return DEFAULT_TIMEZONE


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()
