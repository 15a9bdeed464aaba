"""Findings across assessments, and editing remediation plans (also after approval)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.wrappers import Response
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import Length, Optional

from ..extensions import db
from ..models import FINDING_STATUSES, SEVERITIES, Assessment, ChecklistItem, Finding, Subcontractor
from ..services import ServiceError
from ..services import findings as svc
from .helpers import form_errors_from, paginate

bp = Blueprint("findings", __name__)


class FindingForm(FlaskForm):
    remediation_plan = TextAreaField("Remediation plan", validators=[Length(max=20_000)])
    owner = StringField("Owner", validators=[Length(max=200)])
    due_date = DateField("Due date", validators=[Optional()])
    status = SelectField(
        "Status", choices=[SelectChoice(s, s.replace("_", " ")) for s in FINDING_STATUSES]
    )


def _statement():  # noqa: ANN202 - a select() of several entities
    return (
        select(Finding, ChecklistItem.ref, Assessment.title, Subcontractor.name)
        .join(ChecklistItem, ChecklistItem.id == Finding.item_id)
        .join(Assessment, Assessment.id == Finding.assessment_id)
        .join(Subcontractor, Subcontractor.id == Assessment.subcontractor_id)
    )


def _severity_order():  # noqa: ANN202 - a SQL CASE expression
    from sqlalchemy import case

    return case({s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity)


@bp.route("/findings/")
@login_required
def list_() -> str:
    severity = request.args.get("severity", "")
    status = request.args.get("status", "")
    show_resolved = request.args.get("resolved") == "1"
    statement = _statement()
    if severity in SEVERITIES:
        statement = statement.where(Finding.severity == severity)
    if status in FINDING_STATUSES:
        statement = statement.where(Finding.status == status)
    if not show_resolved:
        statement = statement.where(Finding.current)
    statement = statement.order_by(
        _severity_order(), Finding.due_date.is_(None), Finding.due_date, Finding.id
    )
    page = paginate(db.session, statement)
    return render_template(
        "findings/list.html",
        page=page,
        severity=severity,
        status=status,
        resolved=show_resolved,
        severities=SEVERITIES,
        statuses=FINDING_STATUSES,
        assessment=None,
    )


@bp.route("/assessments/<int:assessment_id>/findings")
@login_required
def for_assessment(assessment_id: int) -> str:
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None:
        abort(404, f"There is no assessment {assessment_id}.")
    statement = (
        _statement()
        .where(Finding.assessment_id == assessment_id)
        .order_by(Finding.current.desc(), _severity_order(), ChecklistItem.position, Finding.id)
    )
    page = paginate(db.session, statement, per_page=200)
    return render_template(
        "findings/list.html",
        page=page,
        assessment=assessment,
        severity="",
        status="",
        resolved=True,
        severities=SEVERITIES,
        statuses=FINDING_STATUSES,
    )


@bp.route("/findings/<int:finding_id>/edit", methods=["GET", "POST"])
@login_required
def edit(finding_id: int) -> str | Response | tuple[str, int]:
    session = db.session
    row = session.exec(_statement().where(Finding.id == finding_id)).first()
    if row is None:
        abort(404, f"There is no finding {finding_id}.")
    finding, ref, title, company = row
    assessment = session.get(Assessment, finding.assessment_id)
    if not svc.can_edit(session, current_user, assessment):
        abort(403, "Only the assessment's auditors, its reviewer or an admin may edit findings.")
    form = FindingForm(obj=finding)
    if form.validate_on_submit():
        try:
            svc.update(
                session,
                current_user,
                finding,
                remediation_plan=form.remediation_plan.data or "",
                owner=form.owner.data or "",
                due_date=form.due_date.data,
                status=form.status.data,
            )
            session.commit()
        except ServiceError as exc:
            session.rollback()
            form_errors_from(exc, form)
        else:
            flash(f"Finding on {ref} saved.", "info")
            return redirect(url_for("findings.for_assessment", assessment_id=assessment.id))
    code = 400 if request.method == "POST" else 200
    return render_template(
        "findings/edit.html",
        form=form,
        finding=finding,
        ref=ref,
        title=title,
        company=company,
        assessment=assessment,
    ), code
