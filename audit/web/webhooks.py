"""Administration: webhooks and what became of their deliveries."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField, URLField
from wtforms.fields import SelectChoice

from .. import policies
from ..extensions import db
from ..services import ServiceError
from ..services import webhooks as svc
from ..vocabulary import WebhookEvent
from .assessments import MultiCheckboxField
from .helpers import allowed_by, me, submit_form

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


class WebhookForm(FlaskForm):
    url = URLField("Receiver URL")
    secret = PasswordField("Signing secret")
    events = MultiCheckboxField(
        "Events", choices=[SelectChoice(e.value, e.value) for e in WebhookEvent]
    )
    description = StringField("Description")


def _csrf_only() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")


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
        ),
    )
    if hook is not None:
        flash(f"Webhook {hook.url} registered.", "info")
        return redirect(url_for("webhooks.index"))
    return render_template(
        "admin/webhooks.html",
        form=form,
        hooks=svc.all_webhooks(session),
        deliveries=svc.recent_deliveries(session),
    ), code


@bp.route("/<int:hook_id>/active", methods=["POST"])
@allowed_by(policies.may_manage_webhooks)
def toggle(hook_id: int) -> Response:
    _csrf_only()
    hook = svc.set_active(db.session, me(), hook_id, request.form.get("active") == "1")
    db.session.commit()
    flash(f"Webhook {hook.url} {'resumed' if hook.active else 'paused'}.", "info")
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
