"""Findings across assessments, and editing remediation plans (also after approval)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Optional

from ..extensions import db
from ..services import assessments as assessment_service
from ..services import findings as svc
from ..vocabulary import FindingStatus, Severity, values
from .helpers import form_revision, me, paginate, sight, submit_form

bp = Blueprint("findings", __name__)


class FindingForm(FlaskForm):
    remediation_plan = TextAreaField("Remediation plan")
    owner = StringField("Owner")
    due_date = DateField("Due date", validators=[Optional()])
    status = SelectField(
        "Status",
        choices=[SelectChoice(s.value, s.value.replace("_", " ")) for s in FindingStatus],
        validate_choice=False,
    )
    # the revision the page was built from: a save over someone else's is refused (412)
    revision = HiddenField()


@bp.route("/findings/")
@login_required
def list_() -> str:
    severity = request.args.get("severity", "")
    status = request.args.get("status", "")
    show_resolved = request.args.get("resolved") == "1"
    filters = svc.FindingFilters(
        severity=severity if severity in values(Severity) else None,
        status=status if status in values(FindingStatus) else None,
        current=None if show_resolved else True,
    )
    return render_template(
        "findings/list.html",
        page=paginate(svc.search(filters, within=sight())),
        severity=severity,
        status=status,
        resolved=show_resolved,
        severities=values(Severity),
        statuses=values(FindingStatus),
        assessment=None,
    )


@bp.route("/assessments/<int:assessment_id>/findings")
@login_required
def for_assessment(assessment_id: int) -> str:
    assessment = assessment_service.get_for(db.session, me(), assessment_id)
    return render_template(
        "findings/list.html",
        page=paginate(svc.for_assessment_page(assessment_id, sight()), per_page=200),
        assessment=assessment,
        severity="",
        status="",
        resolved=True,
        severities=values(Severity),
        statuses=values(FindingStatus),
    )


@bp.route("/findings/<int:finding_id>/edit", methods=["GET", "POST"])
@login_required
def edit(finding_id: int) -> str | Response | tuple[str, int]:
    session = db.session
    finding, ref, title, company = svc.get_row(session, me(), finding_id)
    assessment = assessment_service.get(session, finding.assessment_id)
    svc.require_edit(session, me(), assessment)
    form = FindingForm(obj=finding)
    saved, code = submit_form(
        form,
        lambda: svc.update(
            session,
            me(),
            finding,
            remediation_plan=form.remediation_plan.data or "",
            owner=form.owner.data or "",
            due_date=form.due_date.data,
            status=form.status.data or "",
            expected_revision=form_revision(form),
        ),
    )
    if code == 412:  # shown with the current revision: saving again replaces the other change
        form.revision.data = str(finding.revision)
    if saved is not None:
        flash(f"Finding on {ref} saved.", "info")
        return redirect(url_for("findings.for_assessment", assessment_id=assessment.id))
    return render_template(
        "findings/edit.html",
        form=form,
        finding=finding,
        ref=ref,
        title=title,
        company=company,
        assessment=assessment,
    ), code
