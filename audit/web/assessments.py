"""Assessment pages: list, create, answer section by section, evidence, submit and review.

Every decision (who may change an assessment, which answers an item allows, what keeps it from
submission) is the service's; these views read the form, call the service and show its answer.
A refusal that names fields or items re-renders the page with each message in its place and
the service's status; any other refusal (403, 404, 409) is the error page with that status.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import policies, urls
from ..extensions import db
from ..models import Assessment, id_of
from ..security import attachment
from ..services import ServiceError, exports, visibility, worklists
from ..services import assessments as svc
from ..services import checklists as checklist_service
from ..services import evidence as evidence_svc
from ..services import findings as finding_service
from ..services import users as user_service
from ..services.subcontractors import register
from ..services.workspace import workspace
from ..vocabulary import AssessmentState
from .helpers import allowed_by, me, paginate, sentence, sight, submit_form

bp = Blueprint("assessments", __name__)


# ------------------------------------------------------------------------------ forms


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewAssessmentForm(FlaskForm):
    """What a new assessment needs; the service decides what is valid."""

    subcontractor_id = SelectField("Subcontractor", coerce=int, validate_choice=False)
    checklist_version_id = SelectField("Checklist version", coerce=int, validate_choice=False)
    auditor_ids = MultiCheckboxField("Auditors", coerce=int, validate_choice=False)
    reviewer_id = SelectField("Reviewer", coerce=int, validate_choice=False)
    title = StringField("Title")
    period_start = DateField("Period from", validators=[Optional()])
    period_end = DateField("Period to", validators=[Optional()])
    due_date = DateField("Due date", validators=[Optional()])


class RevisionForm(FlaskForm):
    """CSRF and the revision the user's page was built from (the lost-update guard)."""

    revision = IntegerField(widget=None, validators=[InputRequired()])


class ReviewForm(FlaskForm):
    revision = HiddenField(validators=[InputRequired()])
    comment = TextAreaField("Comment")


class EvidenceForm(FlaskForm):
    item_ref = HiddenField()


# ------------------------------------------------------------------------------ helpers


def _load(assessment_id: int) -> Assessment:
    """The assessment, if the signed-in user may read it (404, 403 otherwise)."""
    return svc.get_for(db.session, me(), assessment_id)


def _editable(assessment_id: int) -> Assessment:
    """The assessment, if the signed-in user may change it now (else the service's 409 or 403)."""
    assessment = _load(assessment_id)
    svc.require_edit(db.session, me(), assessment)
    return assessment


def _valid(form: FlaskForm) -> FlaskForm:
    """The form, once its CSRF token and fields check out (else 400)."""
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    return form


def _revision(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _context(assessment: Assessment, **extra: Any) -> dict[str, Any]:
    """Everything the assessment page shows: the service's workspace and the page's choices."""
    space = workspace(db.session, me(), assessment)
    context = {f.name: getattr(space, f.name) for f in fields(space)}
    checklist = space.checklist
    refs = [s.ref for s in checklist.sections]
    wanted = request.args.get("section") or extra.pop("section", None)
    section = next((s for s in checklist.sections if s.ref == wanted), checklist.sections[0])
    return {
        **context,
        "section": section,
        "section_scores": space.section_scores,
        "next_section": refs[refs.index(section.ref) + 1] if section.ref != refs[-1] else None,
        "form": RevisionForm(revision=assessment.revision),
        "evidence_form": EvidenceForm(),
        "lang": "ja" if request.args.get("lang") == "ja" else "en",
        "max_mb": current_app.config["MAX_EVIDENCE_BYTES"] // (1024 * 1024),
        "has_findings": finding_service.has_current(db.session, id_of(assessment)),
        **extra,
    }


# ------------------------------------------------------------------------------ list and create


@bp.route("/assessments/")
@login_required
def list_() -> str:
    state = request.args.get("state", "")
    mine = request.args.get("mine") == "1"
    q = request.args.get("q", "").strip()
    filters = worklists.AssessmentFilters(
        state=state if state in {s.value for s in AssessmentState} else None,
        q=q or None,
        mine_of=me().id if mine else None,
    )
    page = paginate(worklists.search(filters, within=sight()))
    return render_template(
        "assessments/list.html", page=page, state=state, mine=mine, q=q, states=AssessmentState
    )


def _choices(form: NewAssessmentForm) -> None:
    session = db.session
    form.subcontractor_id.choices = [
        SelectChoice(row_id, name) for row_id, name in register.choices(session, sight())
    ]
    form.checklist_version_id.choices = [
        SelectChoice(v.id, f"{v.title_en} {v.version} ({v.item_count} items)")
        for v in checklist_service.version_choices(session)
    ]
    people = user_service.active_people(session)
    form.auditor_ids.choices = [SelectChoice(u.id, u.name) for u in people if policies.may_audit(u)]
    form.reviewer_id.choices = [
        SelectChoice(u.id, u.name) for u in people if policies.may_be_reviewer(u)
    ]


@bp.route("/assessments/new", methods=["GET", "POST"])
@allowed_by(policies.may_create_assessment)
def new() -> str | Response | tuple[str, int]:
    form = NewAssessmentForm()
    _choices(form)
    if request.method == "GET":
        form.subcontractor_id.data = request.args.get("subcontractor_id", type=int)
        if policies.may_audit(me()):
            form.auditor_ids.data = [me().id]
    created, status = submit_form(
        form,
        lambda: svc.create(
            db.session,
            me(),
            subcontractor_id=form.subcontractor_id.data,
            checklist_version_id=form.checklist_version_id.data,
            auditor_ids=form.auditor_ids.data or [],
            reviewer_id=form.reviewer_id.data,
            title=form.title.data or None,
            period_start=form.period_start.data,
            period_end=form.period_end.data,
            due_date=form.due_date.data,
        ),
    )
    if created is not None:
        if not visibility.sees_assessment(db.session, me(), created):
            # under assigned visibility a planner who is not one of its people cannot open it
            flash("Assessment created for the people you assigned to it.", "info")
            return redirect(url_for("assessments.list_"))
        flash("Assessment created. Answer the first section below.", "info")
        return redirect(url_for("assessments.detail", assessment_id=created.id))
    return render_template("assessments/new.html", form=form), status


# ------------------------------------------------------------------------------ the assessment


@bp.route("/assessments/<int:assessment_id>")
@login_required
def detail(assessment_id: int) -> str:
    return render_template("assessments/detail.html", **_context(_load(assessment_id)))


@bp.route("/assessments/<int:assessment_id>/sections/<section_ref>", methods=["POST"])
@login_required
def save_section(assessment_id: int, section_ref: str) -> Response | tuple[str, int]:
    """Save one section's answers; other sections are untouched."""
    session = db.session
    assessment = _editable(assessment_id)
    checklist = svc.definition(session, assessment)
    section = next((s for s in checklist.sections if s.ref == section_ref), None)
    if section is None:
        abort(404, f"There is no section {section_ref} in this checklist.")
    form = _valid(RevisionForm())
    typed: dict[str, tuple[str | None, str]] = {}
    inputs: list[svc.AnswerInput] = []
    for item in section.items:
        status = request.form.get(f"answer-{item.ref}")
        comment = request.form.get(f"comment-{item.ref}", "")
        typed[item.ref] = (status or None, comment)
        if status is not None:  # not sent: leave it as it is
            inputs.append(svc.AnswerInput(item.ref, status or None, comment))
    try:
        svc.save_answers(session, me(), assessment, inputs, form.revision.data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        if not exc.problems:
            raise
        error = exc
    else:
        target = request.form.get("then")
        next_ref = target if target in {s.ref for s in checklist.sections} else section.ref
        flash(f"Section {section.ref} saved.", "info")
        return redirect(
            url_for("assessments.detail", assessment_id=assessment.id, section=next_ref)
        )
    stale = isinstance(error, svc.StaleRevision)
    fresh = svc.get(session, assessment.id or assessment_id)
    item_errors = {ref: " ".join(messages) for ref, messages in error.by_field().items()}
    message = error.message if stale else "Some answers need correcting; nothing was saved."
    context = _context(fresh, section=section.ref, item_errors=item_errors, error=message)
    # keep what the user typed; after a stale refusal the form carries the current revision, so
    # saving again (having seen the message) deliberately replaces this section's answers
    context["answers"] = {**context["answers"], **typed}
    context["form"] = RevisionForm(revision=fresh.revision if stale else form.revision.data)
    context["stale"] = stale
    return render_template("assessments/detail.html", **context), error.status


@bp.route("/assessments/<int:assessment_id>/score-preview", methods=["POST"])
@login_required
def score_preview(assessment_id: int) -> Response:
    """The live score for the stored answers overlaid with the ones on screen (stores nothing)."""
    overlay = request.get_json(silent=True) or {}
    answers = overlay.get("answers") if isinstance(overlay, dict) else None
    result = svc.preview_score(
        db.session, _load(assessment_id), answers if isinstance(answers, dict) else {}
    )
    return jsonify(result.as_dict())


@bp.route("/assessments/<int:assessment_id>/submit", methods=["POST"])
@login_required
def submit(assessment_id: int) -> Response | tuple[str, int]:
    session = db.session
    assessment = _editable(assessment_id)
    form = _valid(RevisionForm())
    try:
        svc.submit(session, me(), assessment, form.revision.data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        context = _context(svc.get(session, assessment_id), error=exc.message)
        if isinstance(exc, svc.NotReady):
            context["problems"] = exc.problems
        return render_template("assessments/detail.html", **context), exc.status
    flash("Submitted for review. The reviewer can now approve or return it.", "info")
    return redirect(url_for("assessments.detail", assessment_id=assessment.id))


# ------------------------------------------------------------------------------ review


@bp.route("/assessments/<int:assessment_id>/review")
@login_required
def review(assessment_id: int) -> str:
    assessment = _load(assessment_id)
    return render_template(
        "assessments/review.html",
        review_form=ReviewForm(revision=str(assessment.revision)),
        findings=finding_service.of_assessment(db.session, assessment),
        **_context(assessment),
    )


def _decide(assessment_id: int, decision: str) -> Response | tuple[str, int]:
    session = db.session
    assessment = _load(assessment_id)
    svc.require_review(session, me(), assessment)
    form = _valid(ReviewForm())
    try:
        if decision == "approve":
            svc.approve(
                session, me(), assessment, _revision(form.revision.data), form.comment.data or ""
            )
        else:
            svc.return_to_auditors(
                session, me(), assessment, _revision(form.revision.data), form.comment.data or ""
            )
        session.commit()
    except ServiceError as exc:
        session.rollback()
        fresh = svc.get(session, assessment_id)
        comment_problems = exc.by_field().get("comment")
        if comment_problems:
            form.comment.errors = [sentence(m) for m in comment_problems]
        return render_template(
            "assessments/review.html",
            review_form=form,
            findings=finding_service.of_assessment(session, fresh),
            **_context(fresh, error=exc.message),
        ), exc.status
    flash(
        "Approved: the assessment is now frozen."
        if decision == "approve"
        else "Returned to the auditors with your comment.",
        "info",
    )
    return redirect(url_for("assessments.detail", assessment_id=assessment_id))


@bp.route("/assessments/<int:assessment_id>/approve", methods=["POST"])
@login_required
def approve(assessment_id: int) -> Response | tuple[str, int]:
    return _decide(assessment_id, "approve")


@bp.route("/assessments/<int:assessment_id>/return", methods=["POST"])
@login_required
def return_(assessment_id: int) -> Response | tuple[str, int]:
    return _decide(assessment_id, "return")


# ------------------------------------------------------------------------------ evidence


@bp.route("/assessments/<int:assessment_id>/evidence", methods=["POST"])
@login_required
def upload_evidence(assessment_id: int) -> Response | tuple[str, int]:
    session = db.session
    assessment = _editable(assessment_id)
    form = _valid(EvidenceForm())
    upload = request.files.get("file")
    item_ref = form.item_ref.data or None
    section = request.form.get("section")
    limit = current_app.config["MAX_EVIDENCE_BYTES"]
    try:
        evidence = evidence_svc.add(
            session,
            me(),
            assessment,
            filename=upload.filename if upload is not None else None,
            content_type=upload.mimetype if upload is not None else None,
            data=upload.read(limit + 1) if upload is not None else b"",
            max_bytes=limit,
            item_ref=item_ref,
        )
        session.commit()
    except ServiceError as exc:
        session.rollback()
        if not exc.problems:
            raise
        context = _context(assessment, section=section, error=f"Evidence not added: {exc.message}")
        return render_template("assessments/detail.html", **context), exc.status
    flash(f"Evidence {evidence.filename} added (SHA-256 {evidence.sha256[:12]}…).", "info")
    anchor = f"#item-{item_ref}" if item_ref else ""
    return redirect(
        url_for("assessments.detail", assessment_id=assessment.id, section=section) + anchor
    )


@bp.route("/evidence/<int:evidence_id>/download")
@login_required
def download_evidence(evidence_id: int) -> Response:
    evidence, data = evidence_svc.content(db.session, me(), evidence_id)
    return attachment(data, evidence.content_type, evidence.filename)


# ------------------------------------------------------------------------------ exports


@bp.route("/assessments/<int:assessment_id>/answers.csv")
@login_required
def export_csv(assessment_id: int) -> Response:
    assessment = _load(assessment_id)
    return attachment(
        exports.answers_csv(db.session, assessment),
        "text/csv",
        f"kansa-assessment-{assessment.id}.csv",
    )


def _oscal_links() -> exports.OscalLinks:
    return exports.OscalLinks(urls.evidence_download_url, current_app.config["TIMEZONE"])


def _json_attachment(document: dict[str, Any], filename: str) -> Response:
    response = jsonify(document)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


@bp.route("/assessments/<int:assessment_id>/oscal.json")
@login_required
def export_oscal(assessment_id: int) -> Response:
    assessment = _load(assessment_id)
    return _json_attachment(
        exports.oscal_assessment_results(db.session, assessment, _oscal_links()),
        f"kansa-assessment-{assessment.id}-oscal-ar.json",
    )


@bp.route("/assessments/<int:assessment_id>/poam.json")
@login_required
def export_poam(assessment_id: int) -> Response:
    assessment = _load(assessment_id)
    return _json_attachment(
        exports.oscal_poam(db.session, assessment, _oscal_links()),
        f"kansa-assessment-{assessment.id}-oscal-poam.json",
    )
