"""Assessment pages: list, create, answer section by section, evidence, submit and review."""

from __future__ import annotations

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
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, or_
from sqlmodel import select
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
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .. import rules
from ..extensions import db
from ..models import (
    STATES,
    Assessment,
    AssessmentAuditor,
    Checklist,
    ChecklistVersion,
    Finding,
    Subcontractor,
    User,
)
from ..security import attachment
from ..services import ServiceError, events
from ..services import assessments as svc
from ..services import evidence as evidence_svc
from .helpers import form_errors_from, paginate, roles_required

bp = Blueprint("assessments", __name__)


# ------------------------------------------------------------------------------ forms


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewAssessmentForm(FlaskForm):
    subcontractor_id = SelectField("Subcontractor", coerce=int, validators=[InputRequired()])
    checklist_version_id = SelectField(
        "Checklist version", coerce=int, validators=[InputRequired()]
    )
    auditor_ids = MultiCheckboxField("Auditors", coerce=int)
    reviewer_id = SelectField("Reviewer", coerce=int, validators=[InputRequired()])
    title = StringField("Title", validators=[Optional(), Length(max=200)])
    period_start = DateField("Period from", validators=[Optional()])
    period_end = DateField("Period to", validators=[Optional()])
    due_date = DateField("Due date", validators=[DataRequired("Give a due date.")])


class RevisionForm(FlaskForm):
    """CSRF and the revision the user's page was built from (the lost-update guard)."""

    revision = IntegerField(widget=None, validators=[InputRequired()])


class ReviewForm(FlaskForm):
    revision = HiddenField(validators=[InputRequired()])
    comment = TextAreaField("Comment", validators=[Length(max=10_000)])


class EvidenceForm(FlaskForm):
    item_ref = HiddenField()


# ------------------------------------------------------------------------------ helpers


def _load(assessment_id: int) -> Assessment:
    assessment = db.session.get(Assessment, assessment_id)
    if assessment is None:
        abort(404, f"There is no assessment {assessment_id}.")
    if not svc.can_view(current_user, assessment):
        abort(403)
    return assessment


def _editable(assessment_id: int, refusal: str) -> Assessment:
    """The assessment, if the signed-in user may change it now (else 403 with ``refusal``)."""
    assessment = _load(assessment_id)
    if not svc.can_edit(db.session, current_user, assessment):
        abort(403, refusal)
    return assessment


def _valid(form: FlaskForm) -> FlaskForm:
    """The form, once its CSRF token and fields check out (else 400)."""
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    return form


def _revision(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _context(assessment: Assessment, **extra: Any) -> dict[str, Any]:
    """Everything the assessment page shows, in a fixed number of queries."""
    session = db.session
    checklist = svc.definition(session, assessment)
    stored = svc.answers_by_ref(session, assessment)
    result = rules.score(checklist, {ref: a.status for ref, a in stored.items()})
    subcontractor = session.get(Subcontractor, assessment.subcontractor_id)
    version = session.get(ChecklistVersion, assessment.checklist_version_id)
    auditors = session.exec(
        select(User)
        .join(AssessmentAuditor, AssessmentAuditor.user_id == User.id)
        .where(AssessmentAuditor.assessment_id == assessment.id)
        .order_by(User.name)
    ).all()
    reviewer = session.get(User, assessment.reviewer_id) if assessment.reviewer_id else None
    files: dict[str | None, list] = {}
    for evidence, ref in evidence_svc.for_assessment(session, assessment):
        files.setdefault(ref, []).append(evidence)
    refs = [s.ref for s in checklist.sections]
    wanted = request.args.get("section") or extra.pop("section", None)
    section = next((s for s in checklist.sections if s.ref == wanted), checklist.sections[0])
    lang = "ja" if request.args.get("lang") == "ja" else "en"
    return {
        "assessment": assessment,
        "checklist": checklist,
        "version": version,
        "subcontractor": subcontractor,
        "auditors": auditors,
        "reviewer": reviewer,
        "answers": {ref: (a.status, a.comment) for ref, a in stored.items()},
        "result": result,
        "section": section,
        "section_scores": {s.ref: s for s in result.sections},
        "next_section": refs[refs.index(section.ref) + 1] if section.ref != refs[-1] else None,
        "files": files,
        "can_edit": svc.can_edit(session, current_user, assessment),
        "can_review": assessment.state == "submitted"
        and svc.can_review(session, current_user, assessment),
        "form": RevisionForm(revision=assessment.revision),
        "evidence_form": EvidenceForm(),
        "lang": lang,
        "max_mb": current_app.config["MAX_EVIDENCE_BYTES"] // (1024 * 1024),
        "events": events.for_assessment(session, assessment.id, limit=20),
        **extra,
    }


# ------------------------------------------------------------------------------ list and create


@bp.route("/assessments/")
@login_required
def list_() -> str:
    state = request.args.get("state", "")
    mine = request.args.get("mine") == "1"
    q = request.args.get("q", "").strip()
    statement = (
        select(Assessment, Subcontractor.name, ChecklistVersion.title_en, ChecklistVersion.version)
        .join(Subcontractor, Subcontractor.id == Assessment.subcontractor_id)
        .join(ChecklistVersion, ChecklistVersion.id == Assessment.checklist_version_id)
    )
    if state in STATES:
        statement = statement.where(Assessment.state == state)
    if mine:
        mine_ids = select(AssessmentAuditor.assessment_id).where(
            AssessmentAuditor.user_id == current_user.id
        )
        statement = statement.where(
            or_(Assessment.id.in_(mine_ids), Assessment.reviewer_id == current_user.id)
        )
    if q:
        like = f"%{q.lower()}%"
        statement = statement.where(
            or_(func.lower(Assessment.title).like(like), func.lower(Subcontractor.name).like(like))
        )
    statement = statement.order_by(
        Assessment.due_date.is_(None), Assessment.due_date, Assessment.id.desc()
    )
    page = paginate(db.session, statement)
    return render_template(
        "assessments/list.html", page=page, state=state, mine=mine, q=q, states=STATES
    )


@bp.route("/assessments/new", methods=["GET", "POST"])
@roles_required("admin", "auditor")
def new() -> str | Response | tuple[str, int]:
    session = db.session
    form = NewAssessmentForm()
    form.subcontractor_id.choices = [
        (s.id, s.name) for s in session.exec(select(Subcontractor).order_by(Subcontractor.name))
    ]
    form.checklist_version_id.choices = [
        SelectChoice(v.id, f"{v.title_en} {v.version} ({v.item_count} items)")
        for c, v in session.exec(
            select(Checklist, ChecklistVersion)
            .join(ChecklistVersion, ChecklistVersion.checklist_id == Checklist.id)
            .order_by(Checklist.slug, ChecklistVersion.sort_key.desc())
        )
    ]
    people = session.exec(select(User).where(User.active).order_by(User.name)).all()
    form.auditor_ids.choices = [
        SelectChoice(u.id, u.name) for u in people if u.role in ("auditor", "admin")
    ]
    form.reviewer_id.choices = [
        SelectChoice(u.id, u.name) for u in people if u.role in ("reviewer", "admin")
    ]
    if request.method == "GET":
        form.subcontractor_id.data = request.args.get("subcontractor_id", type=int)
        if current_user.role == "auditor":
            form.auditor_ids.data = [current_user.id]
    if form.validate_on_submit():
        if (
            form.period_start.data
            and form.period_end.data
            and (form.period_end.data < form.period_start.data)
        ):
            form.period_end.errors.append("The period ends before it starts.")
        else:
            try:
                assessment = svc.create(
                    session,
                    current_user,
                    subcontractor_id=form.subcontractor_id.data,
                    checklist_version_id=form.checklist_version_id.data,
                    auditor_ids=form.auditor_ids.data or [],
                    reviewer_id=form.reviewer_id.data,
                    title=form.title.data or None,
                    period_start=form.period_start.data,
                    period_end=form.period_end.data,
                    due_date=form.due_date.data,
                )
                session.commit()
            except ServiceError as exc:
                session.rollback()
                form_errors_from(exc, form)
            else:
                flash("Assessment created. Answer the first section below.", "info")
                return redirect(url_for("assessments.detail", assessment_id=assessment.id))
    status = 400 if request.method == "POST" else 200
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
    assessment = _editable(
        assessment_id, "You cannot change this assessment (not assigned, or no longer open)."
    )
    checklist = svc.definition(session, assessment)
    section = next((s for s in checklist.sections if s.ref == section_ref), None)
    if section is None:
        abort(404, f"There is no section {section_ref} in this checklist.")
    form = _valid(RevisionForm())
    typed: dict[str, tuple[str | None, str]] = {}
    inputs: list[svc.AnswerInput] = []
    errors: dict[str, str] = {}
    for item in section.items:
        status = request.form.get(f"answer-{item.ref}")
        comment = request.form.get(f"comment-{item.ref}", "")
        typed[item.ref] = (status or None, comment)
        if status is None:
            continue  # not sent: leave as it is
        if status and status not in item.answers:
            errors[item.ref] = f"Choose one of: {', '.join(item.answers)}."
            continue
        if len(comment) > 10_000:
            errors[item.ref] = "The comment is over 10,000 characters."
            continue
        inputs.append(svc.AnswerInput(item.ref, status or None, comment))
    message = None
    if not errors:
        try:
            svc.save_answers(session, current_user, assessment, inputs, form.revision.data)
            session.commit()
        except svc.StaleRevision as exc:
            session.rollback()
            message, code = exc.message, 409
        except ServiceError as exc:
            session.rollback()
            message, code = exc.message, exc.status
        else:
            target = request.form.get("then")
            next_ref = target if target in {s.ref for s in checklist.sections} else section.ref
            flash(f"Section {section.ref} saved.", "info")
            return redirect(
                url_for("assessments.detail", assessment_id=assessment.id, section=next_ref)
            )
    else:
        message, code = "Some answers need correcting; nothing was saved.", 400
    fresh = session.get(Assessment, assessment.id)
    context = _context(fresh, section=section.ref, item_errors=errors, error=message)
    # keep what the user typed; after a stale refusal the form carries the current revision, so
    # saving again (having seen the message) deliberately replaces this section's answers
    context["answers"] = {**context["answers"], **typed}
    context["form"] = RevisionForm(revision=fresh.revision if code == 409 else form.revision.data)
    context["stale"] = code == 409
    return render_template("assessments/detail.html", **context), code


@bp.route("/assessments/<int:assessment_id>/score-preview", methods=["POST"])
@login_required
def score_preview(assessment_id: int) -> Response | tuple[Response, int]:
    """The live score for the stored answers overlaid with the ones on screen (stores nothing)."""
    session = db.session
    assessment = _load(assessment_id)
    checklist = svc.definition(session, assessment)
    answers = {ref: a.status for ref, a in svc.answers_by_ref(session, assessment).items()}
    overlay = request.get_json(silent=True) or {}
    for ref, status in (overlay.get("answers") or {}).items():
        if ref in checklist.item_index() and status in checklist.item(ref).answers:
            answers[ref] = status
    try:
        result = rules.score(checklist, answers)
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 422
    return jsonify(result.as_dict())


@bp.route("/assessments/<int:assessment_id>/submit", methods=["POST"])
@login_required
def submit(assessment_id: int) -> Response | tuple[str, int]:
    session = db.session
    assessment = _editable(assessment_id, "You cannot submit this assessment.")
    form = _valid(RevisionForm())
    try:
        svc.submit(session, current_user, assessment, form.revision.data)
        session.commit()
    except svc.NotReady as exc:
        session.rollback()
        context = _context(session.get(Assessment, assessment_id), problems=exc.problems)
        context["error"] = exc.message
        return render_template("assessments/detail.html", **context), 409
    except ServiceError as exc:
        session.rollback()
        context = _context(session.get(Assessment, assessment_id), error=exc.message)
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
        findings=_findings(assessment),
        **_context(assessment),
    )


def _findings(assessment: Assessment) -> list[tuple[Finding, str]]:
    from ..models import ChecklistItem

    order = {s: i for i, s in enumerate(rules.SEVERITIES)}
    rows = db.session.exec(
        select(Finding, ChecklistItem.ref)
        .join(ChecklistItem, ChecklistItem.id == Finding.item_id)
        .where(Finding.assessment_id == assessment.id)
    ).all()
    return sorted(rows, key=lambda r: (not r[0].current, order[r[0].severity], r[1]))


def _decide(assessment_id: int, decision: str) -> Response | tuple[str, int]:
    session = db.session
    assessment = _load(assessment_id)
    if assessment.state != "submitted" or not svc.can_review(session, current_user, assessment):
        abort(403, "Only the assigned reviewer, who is not one of its auditors, may review it.")
    form = _valid(ReviewForm())
    try:
        if decision == "approve":
            svc.approve(
                session,
                current_user,
                assessment,
                _revision(form.revision.data),
                form.comment.data or "",
            )
        else:
            svc.return_to_auditors(
                session,
                current_user,
                assessment,
                _revision(form.revision.data),
                form.comment.data or "",
            )
        session.commit()
    except ServiceError as exc:
        session.rollback()
        fresh = session.get(Assessment, assessment_id)
        if exc.field == "comment":
            form.comment.errors = [exc.message[0].upper() + exc.message[1:] + "."]
        return render_template(
            "assessments/review.html",
            review_form=form,
            findings=_findings(fresh),
            **_context(fresh, error=exc.message),
        ), (400 if exc.field == "comment" else exc.status)
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
    assessment = _editable(assessment_id, "You cannot add evidence to this assessment.")
    form = _valid(EvidenceForm())
    upload = request.files.get("file")
    item_ref = form.item_ref.data or None
    section = request.form.get("section")
    try:
        if upload is None or not upload.filename:
            raise ServiceError("Choose a file to upload.", "file")
        evidence = evidence_svc.add(
            session,
            current_user,
            assessment,
            filename=upload.filename,
            content_type=upload.mimetype,
            data=upload.read(current_app.config["MAX_EVIDENCE_BYTES"] + 1),
            max_bytes=current_app.config["MAX_EVIDENCE_BYTES"],
            item_ref=item_ref,
        )
        session.commit()
    except ServiceError as exc:
        session.rollback()
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
    try:
        evidence, data = evidence_svc.content(db.session, evidence_id)
    except ServiceError:
        abort(404, f"There is no evidence file {evidence_id}.")
    _load(evidence.assessment_id)
    return attachment(data, evidence.content_type, evidence.filename)


# ------------------------------------------------------------------------------ exports


@bp.route("/assessments/<int:assessment_id>/answers.csv")
@login_required
def export_csv(assessment_id: int) -> Response:
    from ..services import exports

    assessment = _load(assessment_id)
    return attachment(
        exports.answers_csv(db.session, assessment),
        "text/csv",
        f"kansa-assessment-{assessment.id}.csv",
    )


@bp.route("/assessments/<int:assessment_id>/oscal.json")
@login_required
def export_oscal(assessment_id: int) -> Response:
    from ..services import exports

    assessment = _load(assessment_id)
    response = jsonify(exports.oscal_assessment_results(db.session, assessment))
    response.headers.set(
        "Content-Disposition",
        "attachment",
        filename=f"kansa-assessment-{assessment.id}-oscal-ar.json",
    )
    return response
