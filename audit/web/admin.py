"""Administration: user accounts."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice

from .. import policies
from ..extensions import db
from ..services import ServiceError
from ..services import users as svc
from ..vocabulary import Role
from .helpers import allowed_by, me, paginate, submit_form

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_CHOICES = [SelectChoice(r.value, r.value) for r in Role]


class NewUserForm(FlaskForm):
    email = EmailField("E-mail")
    name = StringField("Name")
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)
    password = PasswordField("Initial password")


class ChangeUserForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)
    active = BooleanField("Active")


@bp.route("/users", methods=["GET", "POST"])
@allowed_by(policies.may_manage_users)
def users() -> str | Response | tuple[str, int]:
    form = NewUserForm()
    user, code = submit_form(
        form,
        lambda: svc.create_user(
            db.session,
            form.email.data or "",
            form.password.data or "",
            form.role.data or "",
            form.name.data or None,
            actor=me(),
            hash_method=current_app.config["PASSWORD_HASH_METHOD"],
        ),
    )
    if user is not None:
        flash(f"User {user.email} created as {user.role}.", "info")
        return redirect(url_for("admin.users"))
    return render_template(
        "admin/users.html", form=form, page=paginate(svc.directory()), change=ChangeUserForm
    ), code


@bp.route("/users/<int:user_id>", methods=["POST"])
@allowed_by(policies.may_manage_users)
def change(user_id: int) -> Response:
    session = db.session
    user = svc.get(session, user_id)
    form = ChangeUserForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete; reload the page and try again.")
    try:
        svc.change_user(session, me(), user, role=form.role.data or "", active=form.active.data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        if not exc.problems:
            raise
        flash(f"Not changed: {exc.message}.", "error")
    else:
        flash(f"{user.email} is now {user.role}{'' if user.active else ' (inactive)'}.", "info")
    return redirect(url_for("admin.users"))
