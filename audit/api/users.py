"""The people directory: who can be named as an assessment's auditors and reviewer."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from .. import policies
from ..extensions import db
from ..models import User
from ..services import users as svc
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import UserOutSchema, UserQuerySchema
from .support import page

blp = ApiBlueprint(
    "api_users",
    __name__,
    tag="users",
    description=(
        "People, by name. Admins see every account. Anyone else sees themselves, every active "
        "auditor, reviewer and admin (the people `auditor_ids` and `reviewer_id` can name) and "
        "everyone who shares an assessment with them as its auditor, reviewer or creator. "
        "E-mail addresses are shown to admins and to the person themselves; null otherwise."
    ),
)


def _out(actor: User, person: User) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email if policies.may_see_email_of(actor, person.id) else None,
        "role": person.role,
        "active": person.active,
    }


@blp.route("/users")
class Users(MethodView):
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """People the token's user may see, by name.

        Filter by `role` (e.g. `role=auditor` for `auditor_ids`, `role=reviewer` for
        `reviewer_id`) and `active`; `updated_since` gives the accounts created, or whose role
        or active flag changed, since then.
        """
        actor = current_user()
        filters = svc.PeopleFilters(
            role=args.get("role"),
            active=args.get("active"),
            updated_since=args.get("updated_since"),
        )
        rows = page(svc.visible_people(actor, filters), pagination_parameters)
        return [_out(actor, person) for person in rows]


@blp.route("/users/<int:user_id>")
class UserOne(MethodView):
    @blp.response(200, UserOutSchema)
    @blp.errors(404)
    def get(self, user_id: int) -> dict[str, Any]:
        """One person, if the token's user may see them (404 otherwise, as for no such id)."""
        actor = current_user()
        return _out(actor, svc.person_for(db.session, actor, user_id))
