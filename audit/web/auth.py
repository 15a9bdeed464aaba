"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..limits import EMAIL_MAX, PASSWORD_MAX
from ..services import users

bp = Blueprint("auth", __name__, url_prefix="/auth")


class LoginForm(FlaskForm):
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter your e-mail address."), Length(max=EMAIL_MAX)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)]
    )


def _safe_next(target: str | None) -> str | None:
    """Only follow ``next`` to a path on this site, never to another host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        outcome = users.sign_in(
            db.session,
            form.email.data or "",
            form.password.data or "",
            request.remote_addr or "unknown",
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        )
        if outcome.user is not None:
            session.clear()  # a new session on sign-in: nothing carried over from before
            login_user(outcome.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
        if outcome.throttled:
            form.form_errors.append(outcome.refusal)
            status = 429
        else:
            form.password.errors = [*form.password.errors, outcome.refusal]
            status = 400
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
