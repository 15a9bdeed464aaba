"""The API tokens page: a user creates, lists and revokes their own tokens."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import Optional

from ..extensions import db
from ..limits import TOKEN_EXPIRY_DAYS_MAX
from ..models import ApiToken
from ..services import ServiceError
from ..services import tokens as svc
from ..vocabulary import TokenScope
from .helpers import me, submit_form

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

SCOPE_LABELS = {
    TokenScope.READ: "read — look only",
    TokenScope.WRITE: "write — also change what your role allows",
    TokenScope.ADMIN: "admin — also administration (only if your role is admin)",
}


class TokenForm(FlaskForm):
    name = StringField("Name", render_kw={"placeholder": "e.g. GRC sync"})
    scope = SelectField(
        "Scope",
        choices=[SelectChoice(s.value, label) for s, label in SCOPE_LABELS.items()],
        validate_choice=False,
    )
    expires_days = IntegerField(
        "Expires after (days)",
        validators=[Optional()],
        render_kw={"min": 1, "max": TOKEN_EXPIRY_DAYS_MAX, "inputmode": "numeric"},
    )


class RevokeForm(FlaskForm):
    """CSRF only."""


def _page(
    form: TokenForm,
    secret: str | None = None,
    created: ApiToken | None = None,
    code: int = 200,
) -> tuple[str, int, dict[str, str]]:
    tokens = svc.for_user(db.session, me())
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
    made, code = submit_form(
        form,
        lambda: svc.create(
            db.session,
            me(),
            name=form.name.data or "",
            scope=form.scope.data or "",
            expires_days=form.expires_days.data,
            actor=me(),
        ),
    )
    if made is not None:
        token, secret = made
        return _page(TokenForm(formdata=None), secret=secret, created=token)
    return _page(form, code=code)


@bp.route("/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int) -> Response:
    """Revoke one of the user's own tokens."""
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    token = svc.get_own(db.session, me(), token_id)
    try:
        svc.revoke(db.session, me(), token)
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        flash(f"Not revoked: {exc.message}.", "error")
    else:
        flash(f"Token {token.name} ({token.prefix}…) revoked: it no longer works.", "info")
    return redirect(url_for("tokens.list_"))
