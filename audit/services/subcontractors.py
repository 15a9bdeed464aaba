"""Subcontractors: validation, the re-entrustment chain and audit cadence."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import Session, select

from ..models import TIERS, Subcontractor, User, utcnow
from . import Conflict, Forbidden, ServiceError, events

COUNTRY = re.compile(r"^[A-Z]{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = (
    "name",
    "country",
    "services",
    "data_categories",
    "tier",
    "parent_id",
    "contract_start",
    "contract_end",
    "audit_cadence_months",
    "contact_email",
    "notes",
)


def _clean(session: Session, data: dict[str, Any], current: Subcontractor | None) -> dict:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ServiceError(f"unknown field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    merged = {f: getattr(current, f) for f in FIELDS} if current else {}
    merged.update(data)
    name = (merged.get("name") or "").strip()
    if not name:
        raise ServiceError("the legal name is required", "name")
    if len(name) > 200:
        raise ServiceError("the legal name is over 200 characters", "name")
    clash = session.exec(select(Subcontractor.id).where(Subcontractor.name == name)).first()
    if clash is not None and (current is None or clash != current.id):
        raise Conflict(f"a subcontractor named {name!r} already exists", "name")
    country = (merged.get("country") or "").strip().upper()
    if not COUNTRY.match(country):
        raise ServiceError("country must be a two-letter ISO 3166 code such as JP", "country")
    tier = merged.get("tier")
    if tier not in TIERS:
        raise ServiceError("tier must be 1, 2 or 3", "tier")
    categories = merged.get("data_categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ServiceError("data categories must be a list of texts", "data_categories")
    categories = [c.strip() for c in categories if c.strip()]
    start, end = merged.get("contract_start"), merged.get("contract_end")
    for key, value in (("contract_start", start), ("contract_end", end)):
        if value is not None and not isinstance(value, date):
            raise ServiceError("must be a date", key)
    if start and end and end < start:
        raise ServiceError("the contract ends before it starts", "contract_end")
    cadence = merged.get("audit_cadence_months")
    if cadence is not None and (not isinstance(cadence, int) or not 1 <= cadence <= 60):
        raise ServiceError("audit cadence must be 1 to 60 months", "audit_cadence_months")
    email = (merged.get("contact_email") or "").strip() or None
    if email and not EMAIL.match(email):
        raise ServiceError(f"{email!r} is not a valid e-mail address", "contact_email")
    parent_id = merged.get("parent_id")
    if parent_id is not None:
        parent = session.get(Subcontractor, parent_id)
        if parent is None:
            raise ServiceError(f"no subcontractor {parent_id}", "parent_id")
        if current is not None and current.id in ancestor_ids(session, parent) | {parent.id}:
            raise ServiceError("that parent would make the chain a loop", "parent_id")
    return {
        **merged,
        "name": name,
        "country": country,
        "data_categories": categories,
        "contact_email": email,
        "services": (merged.get("services") or "").strip(),
        "notes": (merged.get("notes") or "").strip(),
    }


def ancestor_ids(session: Session, subcontractor: Subcontractor) -> set[int]:
    """Ids of every party above this one in its re-entrustment chain."""
    seen: set[int] = set()
    parent_id = subcontractor.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent_id = session.exec(
            select(Subcontractor.parent_id).where(Subcontractor.id == parent_id)
        ).first()
    return seen


def create(session: Session, actor: User, data: dict[str, Any]) -> Subcontractor:
    """Create a subcontractor after validating every field."""
    if actor.role not in ("admin", "auditor"):
        raise Forbidden("only auditors and admins manage subcontractors")
    clean = _clean(session, data, None)
    subcontractor = Subcontractor(**clean)
    session.add(subcontractor)
    session.flush()
    events.record(
        session, actor, "subcontractor.created", "subcontractor", subcontractor.id,
        after=_public(subcontractor),
    )
    return subcontractor


def update(
    session: Session, actor: User, subcontractor: Subcontractor, data: dict[str, Any]
) -> Subcontractor:
    """Change fields of a subcontractor after validating the result as a whole."""
    if actor.role not in ("admin", "auditor"):
        raise Forbidden("only auditors and admins manage subcontractors")
    before = _public(subcontractor)
    clean = _clean(session, data, subcontractor)
    for key, value in clean.items():
        setattr(subcontractor, key, value)
    subcontractor.updated_at = utcnow()
    session.add(subcontractor)
    session.flush()
    after = _public(subcontractor)
    changed = {k for k in after if before.get(k) != after.get(k)}
    if changed:
        events.record(
            session, actor, "subcontractor.updated", "subcontractor", subcontractor.id,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )
    return subcontractor


def _public(subcontractor: Subcontractor) -> dict[str, Any]:
    return {f: getattr(subcontractor, f) for f in FIELDS}
