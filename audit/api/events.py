"""The audit trail: every recorded change, each event chained to the previous by its hash."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from ..extensions import db
from ..models import AuditEvent
from ..services import assessments, events
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import EventBatchSchema, EventCursorSchema, EventOutSchema, ListQuerySchema
from .support import page

HASH_RULE = """\
Every event carries `hash` and `prev_hash`, so a consumer can check the trail itself:

1. Build the JSON object `{"prev": prev_hash, "at": occurred_at, "actor_id": actor_id,
   "actor": actor, "action": action, "object": [object_type, object_id],
   "assessment_id": assessment_id, "before": before, "after": after}` with the values exactly
   as the API gives them (`occurred_at` is already the text that was hashed; nulls stay null).
2. Serialise it with the keys sorted at every level, no whitespace (separators `,` and `:`),
   and non-ASCII characters written as themselves, not `\\u` escapes (in Python:
   `json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`).
3. `hash` is the lower-case hex SHA-256 of that text in UTF-8.
4. Each event's `prev_hash` is the `hash` of the event before it in id order; the first event's
   is 64 zeros. A mismatch in 3 means the event was edited; in 4, that one was removed,
   inserted or reordered.
"""

blp = ApiBlueprint(
    "api_events",
    __name__,
    tag="events",
    description="The append-only, hash-chained audit trail.\n\n" + HASH_RULE,
)


def _out(event: AuditEvent) -> dict[str, Any]:
    return {**event.model_dump(), "occurred_at": events.occurred_text(event)}


@blp.route("/assessments/<int:assessment_id>/events")
class AssessmentEvents(MethodView):
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, EventOutSchema(many=True))
    @blp.paginate()
    @blp.errors(404)
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters, assessment_id: int
    ) -> list[dict[str, Any]]:
        """The events of one assessment, oldest first (anyone who may read the assessment).

        The chain runs through the whole trail, so `prev_hash` may name an event of another
        assessment; each event's own `hash` can be recomputed from it (see the events tag).
        Events never change: `updated_since` gives those that occurred since then.
        """
        assessments.get_for(db.session, current_user(), assessment_id)
        statement = events.of_assessment(assessment_id, since=args.get("updated_since"))
        rows = page(statement, pagination_parameters)
        return [_out(event) for event in rows]


@blp.route("/events")
class Events(MethodView):
    @blp.doc(operationId="listEvents")
    @blp.scope("admin")
    @blp.arguments(EventCursorSchema, location="query")
    @blp.response(
        200,
        EventBatchSchema,
        headers={
            "Link": {
                "description": 'The request for the events that follow: <...?after=N>; rel="next"',
                "schema": {"type": "string"},
            }
        },
    )
    def get(self, args: dict[str, Any]) -> Any:
        """All events after a cursor, oldest first, for incremental sync (admins).

        Start with `after=0` (or leave it out) and send the `next` of each answer as the
        following `after`; `more` says whether to ask again at once. The `Link` header
        (`rel="next"`) carries the same cursor. The cursor is the id of the last event seen.
        """
        batch = events.after(db.session, current_user(), args["after"], args["limit"])
        following = url_for(".Events", after=batch.next, limit=args["limit"])
        body = {
            "events": [_out(event) for event in batch.events],
            "next": batch.next,
            "more": batch.more,
        }
        return body, 200, {"Link": f'<{following}>; rel="next"'}
