"""Administration: webhooks and what became of their deliveries."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField, URLField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import WEBHOOK_EVENTS, Webhook
from ..services import ServiceError
from ..services import webhooks as svc
from .assessments import MultiCheckboxField
from .helpers import form_errors_from, roles_required

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


class WebhookForm(FlaskForm):
    url = URLField("Receiver URL", validators=[DataRequired("Enter the URL."), Length(max=2000)])
    secret = PasswordField(
        "Signing secret", validators=[DataRequired("Enter a secret of 16 characters or more.")]
    )
    events = MultiCheckboxField("Events", choices=[SelectChoice(e, e) for e in WEBHOOK_EVENTS])
    description = StringField("Description", validators=[Length(max=200)])


@bp.route("/", methods=["GET", "POST"])
@roles_required("admin")
def index() -> str | Response | tuple[str, int]:
    session = db.session
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            hook = svc.register(
                session,
                current_user,
                url=form.url.data,
                secret=form.secret.data,
                events=form.events.data or [],
                description=form.description.data or "",
            )
            session.commit()
        except ServiceError as exc:
            session.rollback()
            form_errors_from(exc, form)
        else:
            flash(f"Webhook {hook.url} registered.", "info")
            return redirect(url_for("webhooks.index"))
    hooks = session.exec(select(Webhook).order_by(Webhook.id)).all()
    code = 400 if request.method == "POST" else 200
    return render_template(
        "admin/webhooks.html",
        form=form,
        hooks=hooks,
        deliveries=svc.recent_deliveries(session),
    ), code


@bp.route("/<int:hook_id>/active", methods=["POST"])
@roles_required("admin")
def toggle(hook_id: int) -> Response:
    session = db.session
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    try:
        hook = svc.set_active(session, current_user, hook_id, request.form.get("active") == "1")
        session.commit()
    except ServiceError as exc:
        abort(exc.status, exc.message)
    flash(f"Webhook {hook.url} {'resumed' if hook.active else 'paused'}.", "info")
    return redirect(url_for("webhooks.index"))


@bp.route("/deliveries/<int:delivery_id>/retry", methods=["POST"])
@roles_required("admin")
def retry(delivery_id: int) -> Response:
    session = db.session
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    try:
        svc.retry(session, current_user, delivery_id)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        flash(f"Not retried: {exc.message}.", "error")
    else:
        flash("The delivery will be sent again by the next worker pass.", "info")
    return redirect(url_for("webhooks.index"))
