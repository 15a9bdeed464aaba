"""Administration: user accounts."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import ROLES, User
from ..services import ServiceError
from ..services import users as svc
from .helpers import form_errors_from, paginate, roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


class NewUserForm(FlaskForm):
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter an e-mail address."), Length(max=254)]
    )
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=120)])
    role = SelectField("Role", choices=[SelectChoice(r, r) for r in ROLES])
    password = PasswordField(
        "Initial password",
        validators=[
            DataRequired("Enter a password."),
            Length(min=svc.MIN_PASSWORD, max=1024, message="Use at least 12 characters."),
        ],
    )


class ChangeUserForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r, r) for r in ROLES])
    active = BooleanField("Active")


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users() -> str | Response | tuple[str, int]:
    session = db.session
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = svc.create_user(
                session,
                form.email.data,
                form.password.data,
                form.role.data,
                form.name.data,
                actor=current_user,
            )
            session.commit()
        except ServiceError as exc:
            session.rollback()
            form_errors_from(exc, form)
        else:
            flash(f"User {user.email} created as {user.role}.", "info")
            return redirect(url_for("admin.users"))
    page = paginate(session, select(User).order_by(User.email))
    code = 400 if request.method == "POST" else 200
    return render_template("admin/users.html", form=form, page=page, change=ChangeUserForm), code


@bp.route("/users/<int:user_id>", methods=["POST"])
@roles_required("admin")
def change(user_id: int) -> Response:
    session = db.session
    user = session.get(User, user_id)
    if user is None:
        abort(404, f"There is no user {user_id}.")
    form = ChangeUserForm()
    if not form.validate_on_submit():
        abort(400, "Choose a valid role.")
    try:
        svc.change_user(session, current_user, user, role=form.role.data, active=form.active.data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        flash(f"Not changed: {exc.message}.", "error")
    else:
        flash(f"{user.email} is now {user.role}{'' if user.active else ' (inactive)'}.", "info")
    return redirect(url_for("admin.users"))
