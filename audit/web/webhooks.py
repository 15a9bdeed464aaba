"""Administration: webhooks (register, edit, pause, delete, rotate the secret) and what became
of their deliveries."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, PasswordField, StringField, URLField
from wtforms.fields import SelectChoice
from wtforms.validators import InputRequired, Regexp

from .. import policies
from ..extensions import db
from ..models import Webhook
from ..services import ServiceError
from ..services import webhooks as svc
from ..vocabulary import WebhookEvent
from .assessments import MultiCheckboxField
from .helpers import allowed_by, me, place_refusal, submit_form

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


class WebhookForm(FlaskForm):
    url = URLField("Receiver URL")
    secret = PasswordField("Signing secret")
    events = MultiCheckboxField(
        "Events", choices=[SelectChoice(e.value, e.value) for e in WebhookEvent]
    )
    description = StringField("Description")


class RevisionForm(FlaskForm):
    """CSRF and the revision of the webhook the page was built from (the lost-update guard)."""

    revision = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}$")])


class EditForm(RevisionForm):
    url = URLField("Receiver URL")
    events = MultiCheckboxField(
        "Events", choices=[SelectChoice(e.value, e.value) for e in WebhookEvent]
    )
    description = StringField("Description")


class RotateForm(RevisionForm):
    secret = PasswordField("New signing secret")


def _settings() -> svc.Settings:
    return svc.Settings.from_config(current_app.config)


def _csrf_only() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")


def _revision(form: RevisionForm) -> int:
    """The revision a submitted form names (400 if the form is not one of ours)."""
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    return int(form.revision.data)


@bp.route("/", methods=["GET", "POST"])
@allowed_by(policies.may_manage_webhooks)
def index() -> str | Response | tuple[str, int]:
    session = db.session
    form = WebhookForm()
    hook, code = submit_form(
        form,
        lambda: svc.register(
            session,
            me(),
            url=form.url.data or "",
            secret=form.secret.data or "",
            events=form.events.data or [],
            description=form.description.data or "",
            settings=_settings(),
        ),
    )
    if hook is not None:
        flash(f"Webhook {hook.url} registered.", "info")
        return redirect(url_for("webhooks.index"))
    return render_template(
        "admin/webhooks.html",
        form=form,
        hooks=svc.all_webhooks(session),
        undelivered=svc.undelivered_counts(session),
        deliveries=svc.recent_deliveries(session),
    ), code


def _edit_page(hook: Webhook, form: EditForm, rotate: RotateForm, code: int) -> tuple[str, int]:
    undelivered = svc.undelivered_counts(db.session).get(hook.id or 0, 0)
    return render_template(
        "admin/webhook_edit.html", hook=hook, form=form, rotate=rotate, undelivered=undelivered
    ), code


@bp.route("/<int:hook_id>/", methods=["GET", "POST"])
@allowed_by(policies.may_manage_webhooks)
def edit(hook_id: int) -> str | Response | tuple[str, int]:
    session = db.session
    hook = svc.get(session, me(), hook_id)
    form = EditForm(obj=None if request.method == "POST" else hook)
    if form.is_submitted() and not form.validate():
        if form.revision.errors or "csrf_token" in form.errors:
            abort(400, "The form was incomplete; reload the page and try again.")
    saved, code = submit_form(
        form,
        lambda: svc.update(
            session,
            me(),
            hook_id,
            int(form.revision.data),
            url=form.url.data or "",
            events=form.events.data or [],
            description=form.description.data or "",
            settings=_settings(),
        ),
    )
    if saved is not None:
        flash(f"Webhook {saved.url} saved.", "info")
        return redirect(url_for("webhooks.index"))
    if code == 412:
        # keep what was typed; the next save applies it over the version saved meanwhile
        hook = svc.get(session, me(), hook_id)
        form.revision.data = str(hook.revision)
    return _edit_page(hook, form, RotateForm(formdata=None, revision=str(hook.revision)), code)


@bp.route("/<int:hook_id>/rotate", methods=["POST"])
@allowed_by(policies.may_manage_webhooks)
def rotate(hook_id: int) -> str | tuple[str, int]:
    session = db.session
    hook = svc.get(session, me(), hook_id)
    form = RotateForm()
    revision = _revision(form)
    try:
        hook, secret = svc.rotate_secret(
            session, me(), hook_id, revision, secret=form.secret.data or None, settings=_settings()
        )
    except ServiceError as exc:
        session.rollback()
        if exc.status not in (412, 422):
            raise
        place_refusal(form, exc)
        hook = svc.get(session, me(), hook_id)
        form.revision.data = str(hook.revision)
        return _edit_page(hook, EditForm(formdata=None, obj=hook), form, exc.status)
    session.commit()
    return render_template(
        "admin/webhook_secret.html", hook=hook, secret=None if form.secret.data else secret
    )


@bp.route("/<int:hook_id>/delete", methods=["GET", "POST"])
@allowed_by(policies.may_manage_webhooks)
def delete(hook_id: int) -> str | Response | tuple[str, int]:
    """A page asking to confirm, and the deletion itself."""
    session = db.session
    hook = svc.get(session, me(), hook_id)
    form = RevisionForm(obj=None if request.method == "POST" else hook)
    code = 200
    if request.method == "POST":
        revision = _revision(form)
        try:
            cancelled = svc.delete(session, me(), hook_id, revision)
        except ServiceError as exc:
            session.rollback()
            if exc.status != 412:
                raise
            place_refusal(form, exc)
            hook = svc.get(session, me(), hook_id)
            form.revision.data = str(hook.revision)
            code = 412
        else:
            session.commit()
            flash(
                f"Webhook {hook.url} deleted; {cancelled} undelivered "
                f"{'delivery was' if cancelled == 1 else 'deliveries were'} cancelled.",
                "info",
            )
            return redirect(url_for("webhooks.index"))
    undelivered = svc.undelivered_counts(session).get(hook_id, 0)
    return render_template(
        "admin/webhook_delete.html", hook=hook, form=form, undelivered=undelivered
    ), code


@bp.route("/<int:hook_id>/active", methods=["POST"])
@allowed_by(policies.may_manage_webhooks)
def toggle(hook_id: int) -> Response:
    _csrf_only()
    hook = svc.set_active(db.session, me(), hook_id, request.form.get("active") == "1")
    db.session.commit()
    flash(
        f"Webhook {hook.url} "
        + (
            "resumed: its held deliveries are due now."
            if hook.active
            else "paused: what is queued for it is held until it is resumed."
        ),
        "info",
    )
    return redirect(url_for("webhooks.index"))


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@allowed_by(policies.may_manage_webhooks)
def retry(delivery_id: int) -> Response:
    _csrf_only()
    try:
        svc.retry(db.session, me(), delivery_id)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        if exc.status == 404:
            raise
        flash(f"Not retried: {exc.message}.", "error")
    else:
        flash("The delivery will be sent again by the next worker pass.", "info")
    return redirect(url_for("webhooks.index"))
