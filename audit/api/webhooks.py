"""Webhooks (admins): register receivers, pause them, and see what became of deliveries."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..limits import WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN, WEBHOOK_URL_MAX
from ..models import User, Webhook, WebhookDelivery
from ..services import webhooks as svc
from ..vocabulary import DeliveryState, WebhookEvent, values
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import INT32
from .support import page

blp = ApiBlueprint(
    "api_webhooks",
    __name__,
    tag="webhooks",
    description=(
        "Signed JSON deliveries on assessment.submitted, assessment.approved, "
        "assessment.returned and finding.updated (admins only). Each POST carries "
        "X-Kansa-Event, X-Kansa-Delivery and X-Kansa-Signature: t=<unix time>,v1=<hex "
        "HMAC-SHA256 of '<t>.' + body with the webhook's secret>."
    ),
)


class WebhookOutSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean()
    description = ma.fields.String()
    created_at = ma.fields.DateTime()


class WebhookInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    # the constraints the service checks, documented (metadata) for clients and generators
    url = ma.fields.String(
        required=True,
        metadata={
            "format": "uri",
            "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+",
            "maxLength": WEBHOOK_URL_MAX,
            "description": "An absolute http:// or https:// URL",
        },
    )
    secret = ma.fields.String(
        required=True,
        load_only=True,
        metadata={"minLength": WEBHOOK_SECRET_MIN, "maxLength": WEBHOOK_SECRET_MAX},
    )
    events = ma.fields.List(
        ma.fields.String(metadata={"enum": list(values(WebhookEvent))}),
        required=True,
        metadata={"minItems": 1},
    )
    description = ma.fields.String(load_default="")


class WebhookPatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    active = ma.fields.Boolean(required=True)


class DeliveryOutSchema(ma.Schema):
    id = ma.fields.Integer()
    delivery_id = ma.fields.String()
    webhook_id = ma.fields.Integer()
    event = ma.fields.String()
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    next_attempt_at = ma.fields.DateTime()
    delivered_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class DeliveryQuerySchema(ma.Schema):
    webhook_id = ma.fields.Integer(validate=INT32)
    state = ma.fields.String(validate=ma.validate.OneOf(values(DeliveryState)))


def _admin() -> User:
    user = current_user()
    svc.require_admin(user)
    return user


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.scope("admin")
    @blp.response(200, WebhookOutSchema(many=True))
    def get(self) -> list[Webhook]:
        """Registered webhooks (the secrets are never shown again)."""
        _admin()
        return svc.all_webhooks(db.session)

    @blp.scope("admin")
    @blp.arguments(WebhookInSchema)
    @blp.response(201, WebhookOutSchema)
    @blp.errors(415, 422)
    def post(self, data: dict[str, Any]) -> Webhook:
        """Register a receiver URL, its signing secret and the events it wants."""
        hook = svc.register(db.session, _admin(), **data)
        db.session.commit()
        return hook


@blp.route("/webhooks/<int:hook_id>")
class WebhookOne(MethodView):
    @blp.scope("admin")
    @blp.arguments(WebhookPatchSchema)
    @blp.response(200, WebhookOutSchema)
    @blp.errors(404, 415, 422)
    def patch(self, data: dict[str, Any], hook_id: int) -> Webhook:
        """Pause (active=false) or resume a webhook."""
        hook = svc.set_active(db.session, _admin(), hook_id, data["active"])
        db.session.commit()
        return hook


@blp.route("/webhooks/deliveries")
class Deliveries(MethodView):
    @blp.scope("admin")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[WebhookDelivery]:
        """Deliveries, newest first: state, attempts, last status or error, next try."""
        _admin()
        statement = svc.deliveries(args.get("webhook_id"), args.get("state"))
        return page(statement, pagination_parameters)


@blp.route("/webhooks/deliveries/<int:delivery_id>/retry")
class Retry(MethodView):
    @blp.doc(operationId="retryDelivery")
    @blp.scope("admin")
    @blp.response(200, DeliveryOutSchema)
    @blp.errors(404, 409)
    def post(self, delivery_id: int) -> WebhookDelivery:
        """Send a failed delivery again from the first attempt."""
        delivery = svc.retry(db.session, _admin(), delivery_id)
        db.session.commit()
        return delivery
