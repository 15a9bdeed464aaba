"""Checklists: reading versions, uploading a new version (admins), previewing a score."""

from __future__ import annotations

import io

from sqlmodel import func, select

from audit.extensions import db
from audit.models import AuditEvent, ChecklistVersion
from tests.api.conftest import SO, all_items, error_of, pagination
from tests.conftest import ROOT

SOURCE = (ROOT / "checklists" / SO / "1.0.0.yaml").read_bytes()


def upload(api, raw: bytes, name: str = "1.1.0.yaml"):
    return api.post(
        "/api/v1/checklists",
        data={"file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
    )


def versions(app) -> int:
    with app.app_context():
        return db.session.exec(select(func.count()).select_from(ChecklistVersion)).one()


def test_list_is_paginated_by_slug(as_user):
    api = as_user("viewer", "read")
    response = api.get("/api/v1/checklists")
    assert response.status_code == 200
    slugs = [c["slug"] for c in response.get_json()]
    assert slugs == sorted(slugs) and SO in slugs
    assert pagination(response)["total"] == 3
    response = api.get("/api/v1/checklists?page=2&page_size=2")
    assert [c["slug"] for c in response.get_json()] == slugs[2:]
    assert pagination(response) == {
        "total": 3,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }


def test_one_checklist_and_one_version(as_user):
    api = as_user("viewer", "read")
    body = api.get(f"/api/v1/checklists/{SO}").get_json()
    assert body["slug"] == SO and [v["version"] for v in body["versions"]] == ["1.0.0"]
    response = api.get(f"/api/v1/checklists/{SO}/versions/1.0.0")
    assert response.status_code == 200
    version = response.get_json()
    assert version["content"]["slug"] == SO and len(version["content_hash"]) == 64
    assert version["item_count"] == len(all_items(api.client.application))


def test_unknown_checklist_or_version_is_404(as_user):
    api = as_user("viewer", "read")
    assert "no-such" in error_of(api.get("/api/v1/checklists/no-such"), 404)["message"]
    error_of(api.get(f"/api/v1/checklists/{SO}/versions/9.9.9"), 404)


def test_admin_uploads_a_new_version(app, as_user):
    before = versions(app)
    raw = SOURCE.replace(b"version: 1.0.0", b"version: 1.1.0", 1)
    response = upload(as_user("admin", "admin"), raw)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["version"] == "1.1.0" and body["created"] is True
    assert versions(app) == before + 1
    # the same file again changes nothing
    again = upload(as_user("admin", "admin"), raw)
    assert again.status_code == 200 and again.get_json()["created"] is False
    assert versions(app) == before + 1
    with app.app_context():
        published = db.session.exec(
            select(ChecklistVersion).where(ChecklistVersion.version == "1.1.0")
        ).one()
        assert published.published_by_id is not None


def test_upload_is_validated_as_the_command_line_does(app, as_user):
    api = as_user("admin", "admin")
    before = versions(app)
    body = error_of(upload(api, b"slug: [unclosed\n"), 422)
    assert "YAML error" in body["errors"]["file"][0]
    body = error_of(upload(api, SOURCE.replace(b"version: 1.0.0", b"version: one", 1)), 422)
    assert "version" in body["message"]
    # a changed file under a published number is refused, naming the difference
    changed = SOURCE.replace(b"Subcontractor oversight", b"Supplier oversight", 1)
    body = error_of(upload(api, changed, "1.0.0.yaml"), 422)
    assert "already published" in body["message"]
    assert versions(app) == before


def test_upload_limits_and_media_type(app, as_user):
    api = as_user("admin", "admin")
    app.config["CHECKLIST_MAX_BYTES"] = 100
    body = error_of(upload(api, SOURCE), 422)
    assert "limit" in body["errors"]["file"][0]
    error_of(api.post("/api/v1/checklists", json={"file": "x"}), 415)
    body = error_of(
        api.post("/api/v1/checklists", data={}, content_type="multipart/form-data"), 422
    )
    assert "file" in body["errors"]


def test_score_preview_rates_without_storing(app, as_user):
    refs = all_items(app)
    api = as_user("viewer", "read")  # a read token may preview: nothing is stored
    with app.app_context():
        events_before = db.session.exec(select(func.count()).select_from(AuditEvent)).one()
    answers = {ref: "compliant" for ref in refs}
    response = api.post(
        f"/api/v1/checklists/{SO}/versions/1.0.0/score-preview", json={"answers": answers}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["score"] == 100.0 and body["rating"] == "A" and body["provisional"] is False
    partial = api.post(
        f"/api/v1/checklists/{SO}/versions/1.0.0/score-preview",
        json={"answers": {refs[0]: "non_compliant"}},
    ).get_json()
    assert partial["provisional"] is True and partial["counts"]["unanswered"] == len(refs) - 1
    with app.app_context():
        assert db.session.exec(select(func.count()).select_from(AuditEvent)).one() == events_before


def test_score_preview_422_names_the_ref(app, as_user):
    api = as_user("viewer", "read")
    url = f"/api/v1/checklists/{SO}/versions/1.0.0/score-preview"
    body = error_of(api.post(url, json={"answers": {"NOPE-1": "compliant"}}), 422)
    assert list(body["errors"]) == ["NOPE-1"]
    ref = all_items(app)[0]
    body = error_of(api.post(url, json={"answers": {ref: "maybe"}}), 422)
    assert list(body["errors"]) == [ref] and "maybe" in body["message"]
    body = error_of(api.post(url, json={"answers": ["x"]}), 422)
    assert "answers" in body["errors"]
    body = error_of(api.post(url, json={}), 422)
    assert body["errors"] == {"answers": ["Missing data for required field."]}
    error_of(
        api.post(f"/api/v1/checklists/{SO}/versions/2.0.0/score-preview", json={"answers": {}}), 404
    )
