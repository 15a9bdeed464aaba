"""Webhooks (admins): register, read, edit, pause, delete receivers, rotate their secrets, and
see what became of deliveries.

A webhook carries an ETag ``"w<id>-r<revision>"``; PATCH, DELETE and rotate-secret need
``If-Match`` with it (428 without, 412 when stale or malformed), like assessments.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..limits import DESCRIPTION_MAX, WEBHOOK_SECRET_MAX, WEBHOOK_SECRET_MIN, WEBHOOK_URL_MAX
from ..models import User, Webhook
from ..services import webhooks as svc
from ..vocabulary import DeliveryState, WebhookEvent, values
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import INT32, ListQuerySchema
from .support import etag_header, etag_value, expected_revision, not_modified, page

blp = ApiBlueprint(
    "api_webhooks",
    __name__,
    tag="webhooks",
    description=(
        "Signed JSON deliveries on assessment.submitted, assessment.approved, "
        "assessment.returned and finding.updated (admins only). Each POST carries "
        "X-Kansa-Event, X-Kansa-Delivery and X-Kansa-Signature: t=<unix time>,v1=<hex "
        "HMAC-SHA256 of '<t>.' + body with the webhook's secret>; for a grace period after "
        "the secret is rotated, a second v1 made with the previous secret follows. Receivers "
        "must be public https addresses unless the operator allows a network "
        "(KANSA_WEBHOOK_ALLOW_PRIVATE); redirects are not followed. Writes need If-Match."
    ),
)


class WebhookOutSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    events = ma.fields.List(ma.fields.String())
    active = ma.fields.Boolean(
        metadata={"description": "false: paused; its undelivered deliveries are held"}
    )
    description = ma.fields.String()
    revision = ma.fields.Integer()
    etag = ma.fields.String(metadata={"description": "The ETag, for If-Match"})
    previous_secret_expires_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "Until when the secret replaced last still signs (grace)"},
    )
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime(allow_none=True)


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
            "description": "An absolute https:// URL (http:// only in development or to a "
            "network the operator allows)",
            "example": "https://receiver.example/kansa",
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
    description = ma.fields.String(load_default="", metadata={"maxLength": DESCRIPTION_MAX})


class WebhookPatchSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    url = ma.fields.String(metadata={"format": "uri", "maxLength": WEBHOOK_URL_MAX})
    events = ma.fields.List(ma.fields.String(metadata={"enum": list(values(WebhookEvent))}))
    description = ma.fields.String(metadata={"maxLength": DESCRIPTION_MAX})
    active = ma.fields.Boolean(
        metadata={"description": "false pauses (holds what is queued); true resumes it"}
    )


class RotateInSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    secret = ma.fields.String(
        load_only=True,
        metadata={
            "description": "The new secret; leave it out to have a random one made",
            "minLength": WEBHOOK_SECRET_MIN,
            "maxLength": WEBHOOK_SECRET_MAX,
        },
    )


class RotatedSchema(WebhookOutSchema):
    secret = ma.fields.String(
        metadata={"description": "The new secret: shown this once, store it now"}
    )


class DeliveryOutSchema(ma.Schema):
    id = ma.fields.Integer()
    delivery_id = ma.fields.String()
    webhook_id = ma.fields.Integer()
    event = ma.fields.String()
    state = ma.fields.String()
    held = ma.fields.Boolean(
        metadata={"description": "Pending, but held while its webhook is paused"}
    )
    attempts = ma.fields.Integer()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    next_attempt_at = ma.fields.DateTime()
    delivered_at = ma.fields.DateTime(allow_none=True)
    updated_at = ma.fields.DateTime(
        allow_none=True, metadata={"description": "When it last changed; null: not since queued"}
    )
    created_at = ma.fields.DateTime()


class DeliveryQuerySchema(ListQuerySchema):
    webhook_id = ma.fields.Integer(validate=INT32)
    state = ma.fields.String(validate=ma.validate.OneOf(values(DeliveryState)))
    held = ma.fields.Boolean(metadata={"description": "Only held (true) or unheld (false) ones"})


def _admin() -> User:
    user = current_user()
    svc.require_admin(user)
    return user


def _settings() -> svc.Settings:
    return svc.Settings.from_config(current_app.config)


def _out(hook: Webhook) -> dict[str, Any]:
    return {**hook.model_dump(exclude={"secret", "previous_secret"}), "etag": etag_value(hook)}


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.scope("admin")
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, WebhookOutSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Registered webhooks (the secrets are never shown again); `updated_since` gives those
        registered or changed since then."""
        _admin()
        hooks = svc.all_webhooks(db.session, updated_since=args.get("updated_since"))
        return [_out(hook) for hook in hooks]

    @blp.scope("admin")
    @blp.arguments(WebhookInSchema)
    @blp.response(201, WebhookOutSchema)
    @blp.returns_etag
    @blp.errors(415, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a receiver URL, its signing secret and the events it wants.

        The URL must be https and resolve to public addresses only, unless its network is
        allowed by the operator (KANSA_WEBHOOK_ALLOW_PRIVATE): 422 naming the address otherwise.
        """
        hook = svc.register(db.session, _admin(), settings=_settings(), **data)
        db.session.commit()
        headers = etag_header(hook) | {"Location": url_for(".WebhookOne", hook_id=hook.id)}
        return _out(hook), 201, headers


@blp.route("/webhooks/<int:hook_id>")
class WebhookOne(MethodView):
    @blp.scope("admin")
    @blp.response(200, WebhookOutSchema)
    @blp.alt_response(304, description="Not modified (If-None-Match names the current ETag)")
    @blp.returns_etag
    @blp.errors(404)
    def get(self, hook_id: int) -> Any:
        """One webhook, with its ETag."""
        hook = svc.get(db.session, _admin(), hook_id)
        unchanged = not_modified(hook)
        if unchanged is not None:
            return unchanged
        return _out(hook), 200, etag_header(hook)

    @blp.scope("admin")
    @blp.if_match
    @blp.arguments(WebhookPatchSchema)
    @blp.response(200, WebhookOutSchema)
    @blp.returns_etag
    @blp.errors(404, 415, 422)
    def patch(self, data: dict[str, Any], hook_id: int) -> Any:
        """Change the URL, events or description, or pause (active=false) or resume it.

        Pausing holds every undelivered delivery (workers leave it pending); resuming makes
        them due at once.
        """
        user = _admin()
        revision = expected_revision(svc.get(db.session, user, hook_id))
        hook = svc.update(db.session, user, hook_id, revision, settings=_settings(), **data)
        db.session.commit()
        return _out(hook), 200, etag_header(hook)

    @blp.scope("admin")
    @blp.if_match
    @blp.response(204)
    @blp.errors(404)
    def delete(self, hook_id: int) -> Response:
        """Delete a webhook; its undelivered deliveries are cancelled (their records stay)."""
        user = _admin()
        revision = expected_revision(svc.get(db.session, user, hook_id))
        svc.delete(db.session, user, hook_id, revision)
        db.session.commit()
        return Response(status=204)


@blp.route("/webhooks/<int:hook_id>/rotate-secret", methods=["POST"])
@blp.scope("admin")
@blp.if_match
@blp.arguments(RotateInSchema, required=False)
@blp.response(200, RotatedSchema)
@blp.returns_etag
@blp.errors(404, 415, 422)
def rotate_secret(data: dict[str, Any], hook_id: int) -> Any:
    """Give the webhook a new signing secret (yours, or a random one), shown this once.

    The old secret keeps signing too, as a second v1 in X-Kansa-Signature, for the grace
    period (KANSA_WEBHOOK_SECRET_GRACE_HOURS, 24 h by default): switch the receiver to the new
    one within it.
    """
    user = _admin()
    revision = expected_revision(svc.get(db.session, user, hook_id))
    hook, secret = svc.rotate_secret(
        db.session, user, hook_id, revision, secret=data.get("secret"), settings=_settings()
    )
    db.session.commit()
    return {**_out(hook), "secret": secret}, 200, etag_header(hook)


@blp.route("/webhooks/deliveries")
class Deliveries(MethodView):
    @blp.scope("admin")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Deliveries, newest first: state, held or not, attempts, last status or error.

        `updated_since` gives the deliveries queued or changed since then (an attempt, a retry,
        a release after a pause, a cancellation).
        """
        _admin()
        statement = svc.deliveries(
            args.get("webhook_id"),
            args.get("state"),
            args.get("held"),
            updated_since=args.get("updated_since"),
        )
        rows = page(statement, pagination_parameters)
        return [{**delivery.model_dump(), "held": bool(held)} for delivery, held in rows]


@blp.route("/webhooks/deliveries/<int:delivery_id>/retry")
class Retry(MethodView):
    @blp.doc(operationId="retryDelivery")
    @blp.scope("admin")
    @blp.response(200, DeliveryOutSchema)
    @blp.errors(404, 409)
    def post(self, delivery_id: int) -> Any:
        """Send a failed delivery again from the first attempt (held while its webhook is
        paused)."""
        delivery = svc.retry(db.session, _admin(), delivery_id)
        db.session.commit()
        return delivery
