"""The API tokens page: a user creates, lists and revokes their own tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..extensions import db
from ..models import ApiToken
from ..services import ServiceError
from ..services import tokens as svc
from .helpers import form_errors_from

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

SCOPE_LABELS = {
    "read": "read — look only",
    "write": "write — also change what your role allows",
    "admin": "admin — also administration (only if your role is admin)",
}


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Name the token after what will use it."), Length(max=120)],
        render_kw={"placeholder": "e.g. GRC sync"},
    )
    scope = SelectField(
        "Scope", choices=[SelectChoice(s, label) for s, label in SCOPE_LABELS.items()]
    )
    expires_days = IntegerField(
        "Expires after (days)",
        validators=[Optional(), NumberRange(1, svc.MAX_EXPIRY_DAYS)],
        render_kw={"min": 1, "max": svc.MAX_EXPIRY_DAYS, "inputmode": "numeric"},
    )


class RevokeForm(FlaskForm):
    """CSRF only."""


def _page(
    form: TokenForm, secret: str | None = None, created: ApiToken | None = None, code: int = 200
) -> tuple[str, int, dict[str, str]]:
    tokens = svc.for_user(db.session, current_user)
    page = render_template(
        "api/tokens.html",
        form=form,
        revoke_form=RevokeForm(),
        tokens=[(t, svc.state(t)) for t in tokens],
        secret=secret,
        created=created,
    )
    # the page may hold a secret shown once: never keep it in a cache
    return page, code, {"Cache-Control": "no-store"}


@bp.route("/", methods=["GET"])
@login_required
def list_() -> tuple[str, int, dict[str, str]]:
    """The user's tokens and the form for a new one."""
    return _page(TokenForm())


@bp.route("/", methods=["POST"])
@login_required
def create() -> tuple[str, int, dict[str, str]]:
    """Create a token and show its secret, this once."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            token, secret = svc.create(
                db.session,
                current_user,
                name=form.name.data or "",
                scope=form.scope.data,
                expires_days=form.expires_days.data,
                actor=current_user,
            )
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            form_errors_from(exc, form)
        else:
            return _page(TokenForm(formdata=None), secret=secret, created=token)
    return _page(form, code=400)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Response:
    """Revoke one of the user's own tokens."""
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404, f"You have no API token {token_id}.")
    try:
        svc.revoke(db.session, current_user, token)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(f"Not revoked: {exc.message}.", "error")
    else:
        flash(f"Token {token.name} ({token.prefix}…) revoked: it no longer works.", "info")
    return redirect(url_for("tokens.list_"))
