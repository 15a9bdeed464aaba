"""The register of subcontractors: recording, changing and deleting one recorded by mistake."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from ... import policies
from ...limits import CADENCE_MONTHS_MAX, CADENCE_MONTHS_MIN, LEGAL_NAME_MAX
from ...models import Assessment, Subcontractor, User, id_of
from ...vocabulary import Tier
from .. import Forbidden, NotFound, Problems, events, revisions, visibility
from ..users import EMAIL
from .chain import ancestor_ids

COUNTRY = re.compile(r"^[A-Z]{2}$")
#: The fields of a subcontractor that people record and change.
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


def _clean(
    session: Session, actor: User, data: dict[str, Any], current: Subcontractor | None
) -> dict:
    """The record as it would be saved; refuses (422, or 409 for a taken name) every problem."""
    problems = Problems()
    for name in sorted(set(data) - set(FIELDS)):
        problems.add(name, f"unknown field {name!r}")
    merged = {f: getattr(current, f) for f in FIELDS} if current else {}
    merged.update({k: v for k, v in data.items() if k in FIELDS})
    name = (merged.get("name") or "").strip()
    if not name:
        problems.add("name", "the legal name is required")
    elif len(name) > LEGAL_NAME_MAX:
        problems.add("name", f"the legal name is over {LEGAL_NAME_MAX} characters")
    else:
        clash = session.exec(select(Subcontractor.id).where(Subcontractor.name == name)).first()
        if clash is not None and (current is None or clash != current.id):
            problems.add("name", f"a subcontractor named {name!r} already exists", "taken")
    country = (merged.get("country") or "").strip().upper()
    if not COUNTRY.match(country):
        problems.add("country", "country must be a two-letter ISO 3166 code such as JP")
    tier = merged.get("tier")
    if isinstance(tier, bool) or tier not in {t.value for t in Tier}:
        problems.add("tier", "tier must be 1, 2 or 3")
    categories = merged.get("data_categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        problems.add("data_categories", "data categories must be a list of texts")
        categories = []
    categories = [c.strip() for c in categories if c.strip()]
    start, end = merged.get("contract_start"), merged.get("contract_end")
    for key, value in (("contract_start", start), ("contract_end", end)):
        if value is not None and not isinstance(value, date):
            problems.add(key, "must be a date")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        problems.add("contract_end", "the contract ends before it starts")
    cadence = merged.get("audit_cadence_months")
    if cadence is not None and (
        not isinstance(cadence, int)
        or isinstance(cadence, bool)
        or not CADENCE_MONTHS_MIN <= cadence <= CADENCE_MONTHS_MAX
    ):
        problems.add(
            "audit_cadence_months",
            f"audit cadence must be {CADENCE_MONTHS_MIN} to {CADENCE_MONTHS_MAX} months",
        )
    email = (merged.get("contact_email") or "").strip() or None
    if email and not EMAIL.match(email):
        problems.add("contact_email", f"{email!r} is not a valid e-mail address")
    parent_id = merged.get("parent_id")
    if parent_id is not None:
        parent = session.get(Subcontractor, parent_id)
        unchanged = current is not None and current.parent_id == parent_id
        if parent is None or not (
            unchanged or visibility.sees_subcontractor(session, actor, id_of(parent))
        ):  # a new parent out of the actor's sight is as unknown as one that does not exist
            problems.add("parent_id", f"no subcontractor {parent_id}")
        elif current is not None and current.id in ancestor_ids(session, parent) | {parent.id}:
            problems.add("parent_id", "that parent would make the chain a loop")
    problems.check()
    return {
        **merged,
        "name": name,
        "country": country,
        "data_categories": categories,
        "contact_email": email,
        "services": (merged.get("services") or "").strip(),
        "notes": (merged.get("notes") or "").strip(),
    }


def _require_manager(actor: User) -> None:
    if not policies.may_manage_subcontractors(actor):
        raise Forbidden("only auditors and admins manage subcontractors")


def create(session: Session, actor: User, data: dict[str, Any]) -> Subcontractor:
    """Record a subcontractor after validating every field."""
    _require_manager(actor)
    clean = _clean(session, actor, data, None)
    subcontractor = Subcontractor(**clean)
    session.add(subcontractor)
    session.flush()
    events.record(
        session,
        actor,
        "subcontractor.created",
        "subcontractor",
        subcontractor.id,
        after=_public(subcontractor),
    )
    return subcontractor


def update(
    session: Session,
    actor: User,
    subcontractor: Subcontractor,
    data: dict[str, Any],
    expected_revision: int | None = None,
) -> Subcontractor:
    """Change fields of a subcontractor after validating the result as a whole.

    ``expected_revision`` is the revision the client's copy shows (``services.revisions``):
    a stale one is refused (412) after the permission and input checks; None skips it.
    """
    _require_manager(actor)
    before = _public(subcontractor)
    clean = _clean(session, actor, data, subcontractor)
    revisions.bump(session, subcontractor, expected_revision, f"subcontractor {subcontractor.id}")
    for key, value in clean.items():
        setattr(subcontractor, key, value)
    session.add(subcontractor)
    session.flush()
    after = _public(subcontractor)
    changed = {k for k in after if before.get(k) != after.get(k)}
    if changed:
        events.record(
            session,
            actor,
            "subcontractor.updated",
            "subcontractor",
            subcontractor.id,
            before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return subcontractor


def delete(
    session: Session,
    actor: User,
    subcontractor: Subcontractor,
    expected_revision: int | None = None,
) -> None:
    """Delete a subcontractor that no assessment and no other subcontractor refers to (admins).

    A stale ``expected_revision`` is refused (412) after the other checks; None skips it.
    """
    if not policies.may_delete_subcontractor(actor):
        raise Forbidden("only admins delete subcontractors")
    problems = Problems()
    assessments = _count(session, Assessment, Assessment.subcontractor_id == subcontractor.id)
    if assessments:
        problems.add(
            "",
            f"{subcontractor.name} has {assessments} assessment(s): its history is kept, "
            "so it cannot be deleted",
            kind="in_use",
        )
    children = _count(session, Subcontractor, Subcontractor.parent_id == subcontractor.id)
    if children:
        problems.add(
            "",
            f"{subcontractor.name} entrusts work to {children} other subcontractor(s): "
            "change their parent first",
            kind="in_use",
        )
    problems.check()
    events.record(
        session,
        actor,
        "subcontractor.deleted",
        "subcontractor",
        subcontractor.id,
        before=_public(subcontractor),
    )
    revisions.delete(session, subcontractor, expected_revision, f"subcontractor {subcontractor.id}")


def _count(session: Session, model: type[Any], condition: Any) -> int:
    return int(session.exec(select(sa.func.count()).select_from(model).where(condition)).one())


def _public(subcontractor: Subcontractor) -> dict[str, Any]:
    return {f: getattr(subcontractor, f) for f in FIELDS}


def get(session: Session, subcontractor_id: int) -> Subcontractor:
    """The subcontractor with this id; ``NotFound`` when there is none."""
    found = session.get(Subcontractor, subcontractor_id)
    if found is None:
        raise NotFound(f"no subcontractor {subcontractor_id}")
    return found


def get_for(session: Session, actor: User, subcontractor_id: int) -> Subcontractor:
    """The subcontractor, if ``actor`` may see it; ``NotFound`` (404) otherwise, as if none."""
    found = get(session, subcontractor_id)
    visibility.require_subcontractor(session, actor, subcontractor_id)
    return found


def parse_categories(text: str) -> list[str]:
    """Data categories typed as comma- or newline-separated text, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for part in re.split(r"[,\n、，]", text or ""):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def parent_choices(
    session: Session, within: visibility.Scope, exclude: set[int] | None = None
) -> list[tuple[int, str]]:
    """(id, name) of every subcontractor in sight that may be chosen as a parent, by name."""
    rows = session.exec(
        select(Subcontractor.id, Subcontractor.name)
        .where(within.subcontractors)
        .order_by(Subcontractor.name)
    )
    return [
        (row_id, name)
        for row_id, name in rows
        if row_id is not None and row_id not in (exclude or set())
    ]


def countries(session: Session, within: visibility.Scope) -> list[str]:
    """Country codes in use by the subcontractors in sight, for the list filter."""
    return list(
        session.exec(
            select(Subcontractor.country)
            .where(within.subcontractors)
            .distinct()
            .order_by(Subcontractor.country)
        )
    )


def choices(session: Session, within: visibility.Scope) -> list[tuple[int, str]]:
    """(id, name) of every subcontractor in sight, by name: the choices of a form."""
    return parent_choices(session, within)
