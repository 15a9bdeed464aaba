"""Findings: gaps found by answers, with remediation plans that outlive the audit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlmodel import select

from ..extensions import db
from ..models import SEVERITIES, ChecklistItem, Finding
from ..services import NotFound
from ..services import findings as svc
from .assessments import load
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import FindingOutSchema, FindingPatchSchema, FindingQuerySchema
from .support import page

blp = ApiBlueprint(
    "api_findings",
    __name__,
    tag="findings",
    description="Findings and their remediation (plan, owner, due date, status).",
)


def _statement() -> Any:
    return select(Finding, ChecklistItem.ref).join(
        ChecklistItem, ChecklistItem.id == Finding.item_id
    )


def _out(row: Any) -> dict[str, Any]:
    finding, ref = row
    return {**finding.model_dump(), "item_ref": ref}


def _load(finding_id: int) -> tuple[Finding, str]:
    row = db.session.exec(_statement().where(Finding.id == finding_id)).first()
    if row is None:
        raise NotFound(f"no finding {finding_id}")
    load(row[0].assessment_id)  # the reader must be allowed to see the assessment
    return row


def _order(key: str) -> list[Any]:
    descending = key.startswith("-")
    severity = sa.case({s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity)
    due = [Finding.due_date.is_(None), Finding.due_date.desc() if descending else Finding.due_date]
    if key.lstrip("-") == "severity":
        return [severity.desc() if descending else severity, *due, Finding.id]
    if key.lstrip("-") == "due_date":
        return [*due, Finding.id]
    return [Finding.id.desc() if descending else Finding.id]


@blp.route("/findings")
class Findings(MethodView):
    @blp.arguments(FindingQuerySchema, location="query")
    @blp.response(200, FindingOutSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Findings across assessments, by severity then due date unless sorted otherwise."""
        statement = _statement()
        for name in ("assessment_id", "severity", "status", "current"):
            if name in args:
                statement = statement.where(getattr(Finding, name) == args[name])
        statement = statement.order_by(*_order(args["sort"]))
        return [_out(row) for row in page(statement, pagination_parameters)]


@blp.route("/findings/<int:finding_id>")
class FindingOne(MethodView):
    @blp.response(200, FindingOutSchema)
    @blp.errors(404)
    def get(self, finding_id: int) -> dict[str, Any]:
        """One finding."""
        return _out(_load(finding_id))

    @blp.arguments(FindingPatchSchema)
    @blp.response(200, FindingOutSchema)
    @blp.errors(404, 415, 422)
    def patch(self, data: dict[str, Any], finding_id: int) -> dict[str, Any]:
        """Change plan, owner, due date or status (its auditors, its reviewer, admins)."""
        finding, ref = _load(finding_id)
        current = {name: getattr(finding, name) for name in svc.EDITABLE_FIELDS}
        svc.update(db.session, current_user(), finding, **(current | data))
        db.session.commit()
        return _out((finding, ref))
