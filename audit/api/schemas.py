"""marshmallow schemas of the API: what each endpoint reads and writes.

Schemas check shapes and types only; the rules (allowed answers, limits, who may do what,
dates in order...) are the services', which name every field they refuse and so give the same
422 as a page would. Vocabularies come from ``audit.vocabulary``: filters are parsed against
them (``OneOf``), and inputs the services check are documented with them (``enum``).
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from ..limits import (
    ANSWERS_PER_REQUEST_MAX,
    CADENCE_MONTHS_MAX,
    CADENCE_MONTHS_MIN,
    COMMENT_MAX,
    EMAIL_PATTERN,
    EVENTS_PER_REQUEST_DEFAULT,
    EVENTS_PER_REQUEST_MAX,
    LEGAL_NAME_MAX,
    TITLE_MAX,
)
from ..reports.labels import LANGS
from ..services import findings, worklists
from ..services.subcontractors import schedule
from ..vocabulary import (
    AnswerStatus,
    AssessmentState,
    FindingStatus,
    Rating,
    Role,
    Severity,
    Tier,
    TokenScope,
    values,
)

# Integer inputs end up compared with or stored in INTEGER columns (32-bit on PostgreSQL;
# SQLite cannot even bind one over 64 bits): anything outside that range is refused with 422
# here rather than failing in the database with a 500. Also documented as minimum/maximum.
INT32 = validate.Range(min=-(2**31), max=2**31 - 1)

#: Field metadata: documented as required and not null although the schema lets it through to
#: the service, which then names it among every other problem of the request (``spec.KansaDocs``).
REQUIRED = "x-kansa-required"

# The constraints the services enforce (with the messages a page shows too), documented here so
# that a client, a generator and Schemathesis know them; ``metadata`` overrides what INT32 says.
TIERS = {"enum": [t.value for t in Tier], "description": "1 critical, 2 important, 3 standard"}
NOT_BLANK = r"\S"  # at least one character that is not a space
COUNTRY = {
    "pattern": r"^\s*[A-Za-z]{2}\s*$",
    "description": "ISO 3166 alpha-2, e.g. JP (any case)",
}
CADENCE = {
    "minimum": CADENCE_MONTHS_MIN,
    "maximum": CADENCE_MONTHS_MAX,
    "description": "Months between audits; null for the tier's default",
}
E_MAIL = {"pattern": rf"^\s*({EMAIL_PATTERN})?\s*$"}


def _sort(*keys: str, default: str) -> fields.String:
    choices = [k for key in keys for k in (key, f"-{key}")]
    return fields.String(
        load_default=default,
        validate=validate.OneOf(choices),
        metadata={
            "description": "Sort key; a leading - sorts descending. Ties are always broken by "
            "id, so pages are stable."
        },
    )


class ListQuerySchema(ma.Schema):
    """What every list accepts: ``updated_since``, for incremental sync."""

    updated_since = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": "Only rows changed or created at or after this moment: an ISO 8601 "
            "date and time with its offset (2026-12-01T09:00:00Z; send + as %2B). For "
            "incremental sync, keep the time you started the last sync and pass it here, "
            "with sort=updated_at where the list offers it.",
            "example": "2026-12-01T09:00:00Z",
        },
    )

    @ma.pre_load
    def _plus_sign(self, data: Any, **_: Any) -> Any:
        """A ``+`` offset sent unencoded arrives as a space: read it as the ``+`` it was."""
        value = data.get("updated_since") if hasattr(data, "get") else None
        if isinstance(value, str) and SPACED_OFFSET.search(value):
            data = {**data, "updated_since": SPACED_OFFSET.sub(r"+\1", value)}
        return data


SPACED_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


# ------------------------------------------------------------------------------ me


class TokenInfoSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "First characters of the secret"})
    scope = fields.String(validate=validate.OneOf(values(TokenScope)))
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class MeSchema(ma.Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    token = fields.Nested(TokenInfoSchema)


# ------------------------------------------------------------------------------ checklists


class VersionSummarySchema(ma.Schema):
    id = fields.Integer()
    slug = fields.String()
    version = fields.String()
    title_en = fields.String()
    title_ja = fields.String(allow_none=True)
    effective_date = fields.String(allow_none=True)
    item_count = fields.Integer()
    content_hash = fields.String(metadata={"description": "SHA-256 of the canonical content"})
    published_at = fields.DateTime()


class ChecklistOutSchema(ma.Schema):
    id = fields.Integer()
    slug = fields.String()
    title_en = fields.String()
    title_ja = fields.String(allow_none=True)
    versions = fields.List(fields.Nested(VersionSummarySchema))


class VersionDetailSchema(VersionSummarySchema):
    created = fields.Boolean(
        metadata={"description": "Upload only: false when identical content was already there"}
    )
    content = fields.Dict(
        metadata={"description": "The canonical definition: sections, items, scoring rules"}
    )


class ChecklistUploadSchema(ma.Schema):
    file = Upload(
        required=True,
        metadata={"description": "The checklist YAML, validated exactly as `checklists load`"},
    )


class ScorePreviewSchema(ma.Schema):
    answers = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Item ref -> answer; a ref left out counts as unanswered"},
    )


class ScoreSchema(ma.Schema):
    """The rules module's result (``rules.ScoreResult.as_dict``)."""

    slug = fields.String()
    version = fields.String()
    score = fields.Float(allow_none=True)
    rating = fields.String(allow_none=True)
    band_rating = fields.String(allow_none=True)
    provisional = fields.Boolean()
    completion = fields.Float()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    sections = fields.List(fields.Dict())
    caps = fields.List(fields.Dict())
    references = fields.Dict()
    findings = fields.List(fields.Dict())


# ------------------------------------------------------------------------------ subcontractors


class SubcontractorOutSchema(ma.Schema):
    id = fields.Integer()
    revision = fields.Integer(metadata={"description": "Moves on with every saved change"})
    etag = fields.String(metadata={"description": "The ETag to send back in If-Match"})
    name = fields.String()
    country = fields.String()
    services = fields.String()
    data_categories = fields.List(fields.String())
    tier = fields.Integer()
    parent_id = fields.Integer(allow_none=True)
    parent_name = fields.String(allow_none=True)
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)
    audit_cadence_months = fields.Integer(allow_none=True)
    cadence_months = fields.Integer(metadata={"description": "Own cadence or the tier's default"})
    contact_email = fields.String(allow_none=True)
    notes = fields.String()
    last_approved = fields.Date(allow_none=True)
    rating = fields.String(allow_none=True)
    score = fields.Float(allow_none=True)
    next_due = fields.Date(metadata={"description": "Next audit date"})
    overdue = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class SubcontractorPatchSchema(ma.Schema):
    """Fields to change; those left out keep their value."""

    name = fields.String(metadata={"pattern": NOT_BLANK, "maxLength": LEGAL_NAME_MAX})
    country = fields.String(metadata=COUNTRY)
    tier = fields.Integer(validate=INT32, metadata=TIERS)
    parent_id = fields.Integer(allow_none=True, validate=INT32)
    services = fields.String()
    data_categories = fields.List(fields.String())
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(
        allow_none=True, metadata={"description": "On or after contract_start"}
    )
    audit_cadence_months = fields.Integer(allow_none=True, validate=INT32, metadata=CADENCE)
    contact_email = fields.String(allow_none=True, metadata=E_MAIL)
    notes = fields.String()


class SubcontractorCreateSchema(SubcontractorPatchSchema):
    name = fields.String(
        required=True, metadata={"pattern": NOT_BLANK, "maxLength": LEGAL_NAME_MAX}
    )
    country = fields.String(required=True, metadata=COUNTRY)
    tier = fields.Integer(required=True, validate=INT32, metadata=TIERS)


class SubcontractorQuerySchema(ListQuerySchema):
    q = fields.String(metadata={"description": "Text in the name or services"})
    tier = fields.Integer(validate=validate.OneOf([t.value for t in Tier]))
    country = fields.String(validate=validate.Length(equal=2))
    rating = fields.String(
        validate=validate.OneOf([*values(Rating), "none"]),
        metadata={"description": "Latest approved rating; none = never rated"},
    )
    overdue = fields.Boolean(metadata={"description": "Only those whose audit is overdue"})
    sort = _sort(*schedule.SORTS, default="name")


# ------------------------------------------------------------------------------ assessments


class AssessmentOutSchema(ma.Schema):
    id = fields.Integer()
    title = fields.String()
    state = fields.String(validate=validate.OneOf(values(AssessmentState)))
    editable = fields.Boolean()
    revision = fields.Integer(metadata={"description": "Moves on with every saved change"})
    etag = fields.String(metadata={"description": "The ETag to send back in If-Match"})
    subcontractor_id = fields.Integer()
    subcontractor_name = fields.String()
    checklist_version_id = fields.Integer()
    checklist = fields.String(metadata={"description": "Checklist slug"})
    version = fields.String(metadata={"description": "Pinned checklist version"})
    auditor_ids = fields.List(fields.Integer())
    reviewer_id = fields.Integer(allow_none=True)
    created_by_id = fields.Integer(allow_none=True)
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    review_comment = fields.String(allow_none=True)
    score_snapshot = fields.Dict(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)


class AssessmentCreateSchema(ma.Schema):
    subcontractor_id = fields.Integer(required=True, validate=INT32)
    checklist_version_id = fields.Integer(
        required=True,
        validate=INT32,
        metadata={"description": "A published version's id (GET /checklists)"},
    )
    auditor_ids = fields.List(
        fields.Integer(validate=INT32),
        required=True,
        metadata={
            "minItems": 1,
            "description": "Active auditors or admins (GET /users?role=auditor&active=true)",
        },
    )
    reviewer_id = fields.Integer(
        allow_none=True,
        load_default=None,
        validate=INT32,
        metadata={"description": "An active reviewer or admin who is not one of its auditors"},
    )
    title = fields.String(metadata={"maxLength": TITLE_MAX})
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True, metadata={"description": "On or after period_start"})
    # required and not null, as documented; the service says so with every other problem
    due_date = fields.Date(load_default=None, metadata={REQUIRED: True})


class AssessmentPatchSchema(ma.Schema):
    """Particulars to change while the assessment is open; those left out keep their value."""

    title = fields.String(metadata={"pattern": NOT_BLANK, "maxLength": TITLE_MAX})
    due_date = fields.Date(allow_none=True)
    reviewer_id = fields.Integer(allow_none=True, validate=INT32)
    period_start = fields.Date(allow_none=True)
    period_end = fields.Date(allow_none=True)


class AssessmentQuerySchema(ListQuerySchema):
    state = fields.String(validate=validate.OneOf(values(AssessmentState)))
    subcontractor_id = fields.Integer(validate=INT32)
    checklist = fields.String(metadata={"description": "Checklist slug"})
    checklist_version_id = fields.Integer(validate=INT32)
    due_before = fields.Date(metadata={"description": "Due on or before this date"})
    due_after = fields.Date(metadata={"description": "Due on or after this date"})
    mine = fields.Boolean(metadata={"description": "Only those I audit or review"})
    sort = _sort(*worklists.SORTS, default="id")


class ReviewSchema(ma.Schema):
    """An approval: the comment is optional."""

    comment = fields.String(load_default="", metadata={"maxLength": COMMENT_MAX})


class ReturnSchema(ma.Schema):
    """A return to the auditors: the comment says what to change, and is required."""

    comment = fields.String(
        required=True,
        metadata={
            "pattern": NOT_BLANK,
            "maxLength": COMMENT_MAX,
            "description": "What the auditors should change",
        },
    )


# ------------------------------------------------------------------------------ answers


class AnswerOutSchema(ma.Schema):
    ref = fields.String()
    status = fields.String(validate=validate.OneOf(values(AnswerStatus)))
    comment = fields.String()
    answered_by_id = fields.Integer(allow_none=True)
    answered_at = fields.DateTime()


class AnswersOutSchema(ma.Schema):
    assessment_id = fields.Integer()
    revision = fields.Integer()
    etag = fields.String()
    answers = fields.List(fields.Nested(AnswerOutSchema))


class AnswerInSchema(ma.Schema):
    status = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "null clears the answer; the item may allow fewer answers",
            "enum": list(values(AnswerStatus)),
        },
    )
    comment = fields.String(load_default="")


class AnswerItemSchema(AnswerInSchema):
    ref = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "Item ref, e.g. SO-2.3"},
    )


class AnswersInSchema(ma.Schema):
    answers = fields.List(
        fields.Nested(AnswerItemSchema),
        required=True,
        validate=validate.Length(min=1, max=ANSWERS_PER_REQUEST_MAX),
        metadata={"description": "Saved all together or not at all"},
    )


# ------------------------------------------------------------------------------ evidence


class EvidenceOutSchema(ma.Schema):
    id = fields.Integer()
    assessment_id = fields.Integer()
    item_ref = fields.String(allow_none=True)
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by_id = fields.Integer(allow_none=True)
    uploaded_at = fields.DateTime()
    download = fields.String(metadata={"description": "Path to GET the file"})


class EvidenceUploadSchema(ma.Schema):
    file = Upload(required=True)


class EvidenceQuerySchema(ma.Schema):
    item_ref = fields.String(metadata={"description": "Attach the file to this item"})


# ------------------------------------------------------------------------------ findings


class FindingOutSchema(ma.Schema):
    id = fields.Integer()
    revision = fields.Integer(
        metadata={"description": "Moves on with every saved change, also by its answer"}
    )
    etag = fields.String(metadata={"description": "The ETag to send back in If-Match"})
    assessment_id = fields.Integer()
    item_ref = fields.String()
    severity = fields.String(validate=validate.OneOf(values(Severity)))
    title = fields.String()
    current = fields.Boolean(metadata={"description": "False once the answer no longer shows it"})
    status = fields.String(validate=validate.OneOf(values(FindingStatus)))
    remediation_plan = fields.String()
    owner = fields.String()
    due_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


class FindingPatchSchema(ma.Schema):
    """Remediation fields to change; those left out keep their value."""

    remediation_plan = fields.String()
    owner = fields.String()
    due_date = fields.Date(allow_none=True)
    status = fields.String(metadata={"enum": list(values(FindingStatus))})


class FindingQuerySchema(ListQuerySchema):
    assessment_id = fields.Integer(validate=INT32)
    severity = fields.String(validate=validate.OneOf(values(Severity)))
    status = fields.String(validate=validate.OneOf(values(FindingStatus)))
    current = fields.Boolean(metadata={"description": "true: still shown by the answers"})
    sort = _sort(*findings.SORTS, default="severity")


class ReportQuerySchema(ma.Schema):
    lang = fields.String(load_default="en", metadata={"enum": list(LANGS)})


# ------------------------------------------------------------------------------ users


class UserOutSchema(ma.Schema):
    id = fields.Integer(metadata={"example": 2})
    name = fields.String(metadata={"example": "Sato Hanako"})
    email = fields.String(
        allow_none=True,
        metadata={
            "description": "Shown to the person themselves and to admins; null for others",
            "example": "hanako.sato@example.com",
        },
    )
    role = fields.String(validate=validate.OneOf(values(Role)), metadata={"example": "auditor"})
    active = fields.Boolean(metadata={"example": True})


class UserQuerySchema(ListQuerySchema):
    role = fields.String(validate=validate.OneOf(values(Role)))
    active = fields.Boolean(
        metadata={"description": "true: active accounts only; false: the others"}
    )


# ------------------------------------------------------------------------------ audit events

HASH_EXAMPLE = "3f1d0c6a9b0e4c1f8a7d2e5b6c9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b"


class EventOutSchema(ma.Schema):
    id = fields.Integer(metadata={"description": "Grows with every event", "example": 41})
    occurred_at = fields.String(
        metadata={
            "format": "date-time",
            "description": "UTC, ISO 8601 with microseconds and +00:00, exactly as hashed",
            "example": "2026-12-01T09:30:00.123456+00:00",
        }
    )
    actor_id = fields.Integer(allow_none=True, metadata={"example": 2})
    actor = fields.String(
        metadata={"description": "E-mail of the actor, or system", "example": "auditor@example.com"}
    )
    action = fields.String(metadata={"example": "assessment.submitted"})
    object_type = fields.String(metadata={"example": "assessment"})
    object_id = fields.String(metadata={"example": "7"})
    assessment_id = fields.Integer(allow_none=True, metadata={"example": 7})
    before = fields.Dict(allow_none=True, metadata={"example": {"state": "in_progress"}})
    after = fields.Dict(allow_none=True, metadata={"example": {"state": "submitted"}})
    prev_hash = fields.String(
        validate=validate.Length(equal=64),
        metadata={
            "description": "The previous event's hash (64 zeros for the first)",
            "example": "0" * 64,
        },
    )
    hash = fields.String(
        validate=validate.Length(equal=64),
        metadata={
            "description": "SHA-256 (hex) of this event's hashed text",
            "example": HASH_EXAMPLE,
        },
    )


class EventBatchSchema(ma.Schema):
    events = fields.List(fields.Nested(EventOutSchema))
    next = fields.Integer(
        metadata={
            "description": "The cursor to send as `after` for the events that follow (also "
            "when there are none yet: poll with it later)",
            "example": 141,
        }
    )
    more = fields.Boolean(
        metadata={"description": "Whether more events follow `next` already", "example": False}
    )


class EventCursorSchema(ma.Schema):
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={
            "description": "The cursor: events with an id above it (0, the default, from the "
            "start; then the `next` of the previous answer)"
        },
    )
    limit = fields.Integer(
        load_default=EVENTS_PER_REQUEST_DEFAULT,
        validate=validate.Range(min=1, max=EVENTS_PER_REQUEST_MAX),
        metadata={"description": "At most this many events"},
    )
