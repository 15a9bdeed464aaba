"""Checklists and their published versions; admins upload new versions; score previews."""

from __future__ import annotations

import re
from itertools import groupby
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Page

from ..extensions import db
from ..models import Checklist, ChecklistVersion
from ..services import NotFound
from ..services import checklists as service
from .auth import current_user
from .blueprint import ApiBlueprint
from .schemas import (
    ChecklistOutSchema,
    ChecklistUploadSchema,
    ListQuerySchema,
    ScorePreviewSchema,
    ScoreSchema,
    VersionDetailSchema,
)

blp = ApiBlueprint(
    "api_checklists",
    __name__,
    tag="checklists",
    description="Versioned checklists (read); admins upload new versions; score previews.",
)


def _summary(version: ChecklistVersion, slug: str) -> dict[str, Any]:
    return {
        "id": version.id,
        "slug": slug,
        "version": version.version,
        "title_en": version.title_en,
        "title_ja": version.title_ja,
        "effective_date": version.effective_date,
        "item_count": version.item_count,
        "content_hash": version.content_hash,
        "published_at": version.published_at,
    }


def _checklist(checklist: Checklist, versions: list[ChecklistVersion]) -> dict[str, Any]:
    return {
        "id": checklist.id,
        "slug": checklist.slug,
        "title_en": checklist.title_en,
        "title_ja": checklist.title_ja,
        "versions": [_summary(v, checklist.slug) for v in versions],
    }


def _grouped(published_since: Any = None) -> list[dict[str, Any]]:
    rows = service.versions(db.session, published_since)
    return [
        _checklist(group[0][0], [v for _, v in group])
        for group in (list(g) for _, g in groupby(rows, key=lambda row: row[0].id))
    ]


@blp.route("/checklists")
class Checklists(MethodView):
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, ChecklistOutSchema(many=True))
    @blp.paginate(Page)
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Published checklists with their versions, by slug (versions in semantic order).

        Published versions never change: ``updated_since`` lists the checklists with a version
        published since then, with those versions only.
        """
        return _grouped(args.get("updated_since"))

    @blp.scope("admin")
    @blp.arguments(ChecklistUploadSchema, location="files")
    @blp.response(201, VersionDetailSchema)
    @blp.alt_response(200, schema=VersionDetailSchema, description="Already published as is")
    @blp.errors(413, 415, 422)
    def post(self, files: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Upload a new version's YAML (admins); validated exactly as `checklists load` does.

        Identical content already published answers 200 with ``created`` false; a changed
        file under a published version number is refused (422) naming the first difference.
        """
        user = current_user()
        upload = files["file"]
        name = re.split(r"[\\/]", upload.filename or "upload.yaml")[-1] or "upload.yaml"
        raw = upload.read()
        result = service.publish_upload(
            db.session, raw, name, user, max_bytes=current_app.config["CHECKLIST_MAX_BYTES"]
        )
        version = result.version
        slug = version.content["slug"]
        body = _summary(version, slug) | {"created": result.created, "content": version.content}
        location = {"Location": url_for(".VersionOne", slug=slug, version=version.version)}
        return body, 201 if result.created else 200, location


@blp.route("/checklists/<slug>")
class ChecklistOne(MethodView):
    @blp.response(200, ChecklistOutSchema)
    @blp.errors(404)
    def get(self, slug: str) -> dict[str, Any]:
        """One checklist with its published versions."""
        for checklist in _grouped():
            if checklist["slug"] == slug:
                return checklist
        raise NotFound(f"no published checklist {slug!r}")


@blp.route("/checklists/<slug>/versions/<version>")
class VersionOne(MethodView):
    @blp.response(200, VersionDetailSchema)
    @blp.errors(404)
    def get(self, slug: str, version: str) -> dict[str, Any]:
        """A published version with its whole definition (sections, items, scoring rules)."""
        found = service.get_version(db.session, slug, version)
        return _summary(found, slug) | {"content": found.content}


@blp.route("/checklists/<slug>/versions/<version>/score-preview")
class ScorePreview(MethodView):
    @blp.doc(operationId="previewScore")
    @blp.scope("read")
    @blp.arguments(ScorePreviewSchema)
    @blp.response(200, ScoreSchema)
    @blp.errors(404, 415, 422)
    def post(self, body: dict[str, Any], slug: str, version: str) -> Any:
        """Rate a set of answers against a version without storing anything (read scope)."""
        definition = service.definition_for(service.get_version(db.session, slug, version))
        return service.preview(definition, body["answers"]).as_dict()
