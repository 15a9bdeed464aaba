"""Subcontractor pages: the directory with audit due dates, profiles with the chain, the forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from .. import policies
from ..extensions import db
from ..limits import CADENCE_MONTHS_MAX, CADENCE_MONTHS_MIN
from ..models import Subcontractor, id_of
from ..policies import DEFAULT_CADENCE_MONTHS
from ..services import ServiceError, visibility
from ..services.subcontractors import chain, register, schedule
from ..vocabulary import Rating, Tier, values
from .helpers import (
    allowed_by,
    form_revision,
    local_today,
    me,
    paginate,
    sentence,
    sight,
    submit_form,
)

bp = Blueprint("subcontractors", __name__, url_prefix="/subcontractors")

TIER_LABELS = {
    Tier.CRITICAL: "1 — critical",
    Tier.IMPORTANT: "2 — important",
    Tier.STANDARD: "3 — standard",
}


def _zone() -> tzinfo:
    return schedule.zone(current_app.config["TIMEZONE"])


# ------------------------------------------------------------------------------ the list


@dataclass(frozen=True)
class ListArgs:
    """The list's query arguments as typed (to refill the form) and as understood."""

    raw: dict[str, str]
    filters: schedule.DirectoryFilters
    ignored: list[str]


def _list_args() -> ListArgs:
    """Read q, tier, country, rating and overdue; a value that makes no sense is ignored."""
    raw = {
        key: request.args.get(key, "").strip()[:200]
        for key in ("q", "tier", "country", "rating", "overdue")
    }
    ignored: list[str] = []
    tier: int | None = None
    if raw["tier"]:
        if raw["tier"].isdigit() and int(raw["tier"]) in {t.value for t in Tier}:
            tier = int(raw["tier"])
        else:
            ignored.append(f"tier {raw['tier']!r} is not 1, 2 or 3")
    country: str | None = None
    if raw["country"]:
        code = raw["country"].upper()
        if len(code) == 2 and code.isascii() and code.isalpha():
            country = code
        else:
            ignored.append(f"country {raw['country']!r} is not a two-letter code")
    rating: str | None = None
    if raw["rating"]:
        value = raw["rating"].upper() if raw["rating"].lower() != "none" else "none"
        if value in values(Rating) or value == "none":
            rating = value
        else:
            ignored.append(f"rating {raw['rating']!r} is not A to E or none")
    overdue = raw["overdue"] in ("1", "on", "true", "yes")
    if raw["overdue"] and not overdue and raw["overdue"] not in ("0", "off", "false", "no"):
        ignored.append(f"overdue {raw['overdue']!r} is not 1")
    filters = schedule.DirectoryFilters(
        q=raw["q"] or None, tier=tier, country=country, rating=rating, overdue=overdue
    )
    return ListArgs(raw, filters, ignored)


@bp.route("/")
@login_required
def list_() -> str:
    """The directory: one page of subcontractors with their latest rating and next audit."""
    tz = _zone()
    today = local_today()
    args = _list_args()
    within = sight()
    page = paginate(schedule.directory_statement(args.filters, today, tz, within=within))
    return render_template(
        "subcontractors/list.html",
        page=page,
        rows=schedule.rows_from(page.items, today, tz),
        args=args,
        today=today,
        countries=register.countries(db.session, within),
        tiers=TIER_LABELS,
        ratings=values(Rating),
    )


# ------------------------------------------------------------------------------ the profile


def _sparkline(
    history: list[schedule.HistoryRow], width: int = 240, height: int = 60
) -> dict[str, Any] | None:
    """Points of an inline SVG of approved scores over time (oldest first), or None."""
    approved = sorted(
        (r for r in history if not policies.is_open(r.assessment.state) and r.score is not None),
        key=lambda r: (r.assessment.approved_at, r.assessment.id),
    )
    if not approved:
        return None
    pad = 6
    step = (width - 2 * pad) / max(1, len(approved) - 1)
    points = []
    for index, row in enumerate(approved):
        x = pad + index * step if len(approved) > 1 else width / 2
        y = pad + (100 - max(0.0, min(100.0, float(row.score or 0)))) / 100 * (height - 2 * pad)
        points.append({"x": round(x, 1), "y": round(y, 1), "row": row})
    return {
        "width": width,
        "height": height,
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
    }


@bp.route("/<int:subcontractor_id>")
@login_required
def detail(subcontractor_id: int) -> str:
    """A subcontractor's profile, audit cadence, re-entrustment chain and assessments."""
    subcontractor = register.get_for(db.session, me(), subcontractor_id)
    tz = _zone()
    within = sight()
    history = schedule.history(db.session, subcontractor_id, within)
    granting = policies.may_grant_visibility(me())
    return render_template(
        "subcontractors/detail.html",
        sub=subcontractor,
        status=schedule.status(db.session, subcontractor, local_today(), tz, within=within),
        chain=chain.chain(db.session, subcontractor_id, within),
        viewers=visibility.viewers_of(db.session, subcontractor_id) if granting else None,
        grantable=visibility.grantable(db.session, subcontractor_id) if granting else [],
        visibility_setting=visibility.setting(db.session),
        grant_form=GrantForm(),
        history=history,
        sparkline=_sparkline(history),
        tz=tz,
        tiers=TIER_LABELS,
        default_cadence=DEFAULT_CADENCE_MONTHS[subcontractor.tier],
    )


# ------------------------------------------------------------------------------ the forms


def _tier(value: Any) -> int | None:
    """Coerce the tier choice; anything not a number is left for the service to refuse."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _parent(value: Any) -> int | None:
    if value is None or value == "" or value == "None":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # no such subcontractor: the service names the problem


class SubcontractorForm(FlaskForm):
    name = StringField("Legal name")
    country = StringField(
        "Country", render_kw={"maxlength": 2, "size": 3, "autocapitalize": "characters"}
    )
    tier = SelectField(
        "Criticality tier",
        choices=[SelectChoice(str(t.value), label) for t, label in TIER_LABELS.items()],
        coerce=_tier,
        validate_choice=False,
        default=1,
    )
    parent_id = SelectField(
        "Entrusted by (parent)", coerce=_parent, validate_choice=False, default=None
    )
    services = TextAreaField("Services", render_kw={"rows": 3})
    data_categories = TextAreaField("Data categories handled", render_kw={"rows": 3})
    contract_start = DateField("Contract start", validators=[Optional()])
    contract_end = DateField("Contract end", validators=[Optional()])
    audit_cadence_months = IntegerField(
        "Audit cadence (months)",
        validators=[Optional()],
        render_kw={"min": CADENCE_MONTHS_MIN, "max": CADENCE_MONTHS_MAX, "inputmode": "numeric"},
    )
    contact_email = EmailField("Contact e-mail")
    notes = TextAreaField("Notes", render_kw={"rows": 4})
    # the revision the page was built from: a save over someone else's is refused (412)
    revision = HiddenField()

    def data_for_service(self) -> dict[str, Any]:
        """The typed values in the shape ``register.create/update`` expects."""
        return {
            "name": self.name.data or "",
            "country": self.country.data or "",
            "tier": self.tier.data,
            "parent_id": self.parent_id.data,
            "services": self.services.data or "",
            "data_categories": register.parse_categories(self.data_categories.data or ""),
            "contract_start": self.contract_start.data,
            "contract_end": self.contract_end.data,
            "audit_cadence_months": self.audit_cadence_months.data,
            "contact_email": self.contact_email.data or None,
            "notes": self.notes.data or "",
        }


def _initial(subcontractor: Subcontractor) -> dict[str, Any]:
    data = {name: getattr(subcontractor, name) for name in register.FIELDS}
    data["data_categories"] = "\n".join(subcontractor.data_categories or [])
    data["revision"] = str(subcontractor.revision)
    return data


def _form(subcontractor: Subcontractor | None) -> SubcontractorForm:
    form = SubcontractorForm(data=_initial(subcontractor) if subcontractor else None)
    exclude: set[int] = set()
    if subcontractor is not None and subcontractor.id is not None:
        whole = chain.chain(db.session, subcontractor.id, visibility.UNLIMITED)
        exclude = {subcontractor.id} | whole.descendant_ids()
    choices = register.parent_choices(db.session, sight(), exclude)
    parent_id = subcontractor.parent_id if subcontractor is not None else None
    if parent_id is not None and parent_id not in {row_id for row_id, _ in choices}:
        # the present parent stays choosable even when it is out of the editor's sight
        choices.insert(0, (parent_id, "(the present parent, out of your sight)"))
    form.parent_id.choices = [SelectChoice("", "— none: entrusted directly by us —")] + [
        SelectChoice(str(row_id), name) for row_id, name in choices
    ]
    return form


def _save(subcontractor: Subcontractor | None) -> str | Response | tuple[str, int]:
    form = _form(subcontractor)

    def save() -> Subcontractor:
        if subcontractor is None:
            return register.create(db.session, me(), form.data_for_service())
        return register.update(
            db.session, me(), subcontractor, form.data_for_service(), form_revision(form)
        )

    saved, status = submit_form(form, save)
    if status == 412 and subcontractor is not None:
        # shown with the current revision: saving again replaces the other change
        form.revision.data = str(subcontractor.revision)
    if saved is not None:
        verb = "added" if subcontractor is None else "saved"
        if not visibility.sees_subcontractor(db.session, me(), id_of(saved)):
            # under assigned visibility it is in sight once one of its assessments is yours
            flash(
                f"{saved.name} {verb}. It will be in your list once you are assigned one of "
                "its assessments.",
                "success",
            )
            return redirect(url_for(".list_"))
        flash(f"{saved.name} {verb}.", "success")
        return redirect(url_for(".detail", subcontractor_id=saved.id))
    page = render_template(
        "subcontractors/form.html",
        form=form,
        sub=subcontractor,
        cadence_defaults=DEFAULT_CADENCE_MONTHS,
    )
    return page, status


@bp.route("/new", methods=["GET", "POST"])
@allowed_by(policies.may_manage_subcontractors)
def new() -> str | Response | tuple[str, int]:
    """Add a subcontractor (auditors and admins)."""
    return _save(None)


@bp.route("/<int:subcontractor_id>/edit", methods=["GET", "POST"])
@allowed_by(policies.may_manage_subcontractors)
def edit(subcontractor_id: int) -> str | Response | tuple[str, int]:
    """Change a subcontractor (auditors and admins)."""
    return _save(register.get_for(db.session, me(), subcontractor_id))


# ------------------------------------------------------------------------------ viewer grants


class GrantForm(FlaskForm):
    """Grant a viewer a subcontractor (the user is chosen from ``visibility.grantable``)."""

    user_id = IntegerField("Viewer", validators=[Optional()])


@bp.route("/<int:subcontractor_id>/viewers", methods=["POST"])
@allowed_by(policies.may_grant_visibility)
def grant(subcontractor_id: int) -> Response:
    """Let a viewer read this subcontractor and its chain below it (admins)."""
    form = GrantForm()
    try:
        made = visibility.grant(db.session, me(), subcontractor_id, form.user_id.data)
        db.session.commit()
        flash(f"Viewer {made.user_id} may now read this subcontractor and its chain.", "success")
    except ServiceError as exc:
        if exc.status == 404:
            raise
        db.session.rollback()
        flash(sentence(exc.message), "error")
    return redirect(url_for(".detail", subcontractor_id=subcontractor_id))


@bp.route("/<int:subcontractor_id>/viewers/<int:user_id>/revoke", methods=["POST"])
@allowed_by(policies.may_grant_visibility)
def revoke(subcontractor_id: int, user_id: int) -> Response:
    """Take a viewer's grant on this subcontractor back (admins)."""
    visibility.revoke(db.session, me(), subcontractor_id, user_id)
    db.session.commit()
    flash("The viewer's grant was revoked.", "success")
    return redirect(url_for(".detail", subcontractor_id=subcontractor_id))
