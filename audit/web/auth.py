"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..services import users

bp = Blueprint("auth", __name__, url_prefix="/auth")


class LoginForm(FlaskForm):
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter your e-mail address."), Length(max=254)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=1024)]
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
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    refused = False
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        refusal = users.sign_in_refusal(db.session, form.email.data, address)
        user = (
            None if refusal else users.authenticate(db.session, form.email.data, form.password.data)
        )
        if refusal:
            refused = True
            form.form_errors.append(refusal)
        elif user is None:
            db.session.rollback()
            users.record_attempt(db.session, form.email.data, address, succeeded=False)
            db.session.commit()
            form.password.errors.append("E-mail or password is not correct.")
        else:
            users.record_attempt(db.session, form.email.data, address, succeeded=True)
            db.session.commit()
            session.clear()  # a new session on sign-in: nothing carried over from before
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    status = 429 if refused else 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))
