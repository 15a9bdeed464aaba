"""Who the token acts for: the user, the role and the token's own scope."""

from __future__ import annotations

from typing import Any

from .auth import current_token, current_user
from .blueprint import ApiBlueprint
from .schemas import MeSchema

blp = ApiBlueprint(
    "api_me", __name__, tag="me", description="The user and token behind the request."
)


@blp.route("/me", methods=["GET"])
@blp.doc(operationId="getMe")
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The token's user and role, and the token's scope and dates."""
    user = current_user()
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "token": current_token(),
    }
