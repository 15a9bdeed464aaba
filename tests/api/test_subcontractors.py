"""Subcontractors over the API: filters, stable pages, create, change, delete, field errors."""

from __future__ import annotations

from sqlmodel import select

from audit.extensions import db
from audit.models import AuditEvent, Subcontractor
from tests.api.conftest import error_of, pagination


def add(api, name: str, **fields):
    response = api.post(
        "/api/v1/subcontractors", json={"name": name, "country": "JP", "tier": 2, **fields}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_read_update_delete(app, as_user, world):
    auditor = as_user("auditor")
    created = add(
        auditor,
        "Hoshi Data KK",
        tier=1,
        country="jp",
        data_categories=["customer PII", " "],
        contract_start="2025-01-01",
        contact_email="dpo@hoshi.example",
    )
    assert created["country"] == "JP" and created["data_categories"] == ["customer PII"]
    assert created["next_due"] == "2025-01-01" and created["overdue"] is True
    assert created["cadence_months"] == 12

    one = auditor.get(f"/api/v1/subcontractors/{created['id']}")
    assert one.status_code == 200 and one.get_json()["name"] == "Hoshi Data KK"

    changed = auditor.patch(
        f"/api/v1/subcontractors/{created['id']}",
        json={"parent_id": world["subcontractor_id"], "audit_cadence_months": 6},
        etag=one.headers["ETag"],
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["parent_name"] == "Aozora Cloud"
    assert changed.get_json()["cadence_months"] == 6

    etag = changed.headers["ETag"]
    error_of(auditor.delete(f"/api/v1/subcontractors/{created['id']}", etag=etag), 403)
    admin = as_user("admin")  # admins only
    assert admin.delete(f"/api/v1/subcontractors/{created['id']}", etag=etag).status_code == 204
    error_of(admin.get(f"/api/v1/subcontractors/{created['id']}"), 404)
    with app.app_context():
        actions = db.session.exec(
            select(AuditEvent.action).where(AuditEvent.object_type == "subcontractor")
        ).all()
    assert {"subcontractor.created", "subcontractor.updated", "subcontractor.deleted"} <= set(
        actions
    )


def test_delete_refused_while_history_or_children_exist(as_user, world):
    admin = as_user("admin")
    body = error_of(
        admin.delete(f"/api/v1/subcontractors/{world['subcontractor_id']}", etag="*"), 409
    )
    assert "assessment" in body["message"]
    parent = add(admin, "Parent KK")
    add(admin, "Child KK", parent_id=parent["id"])
    body = error_of(admin.delete(f"/api/v1/subcontractors/{parent['id']}", etag="*"), 409)
    assert "parent" in body["message"]
    # both reasons at once: history and a subcontractor below it
    add(admin, "Grandchild KK", parent_id=world["subcontractor_id"])
    body = error_of(
        admin.delete(f"/api/v1/subcontractors/{world['subcontractor_id']}", etag="*"), 409
    )
    assert [p["kind"] for p in body["problems"]] == ["in_use", "in_use"]
    assert "assessment" in body["problems"][0]["message"]
    assert "parent" in body["problems"][1]["message"]


def test_field_level_messages(as_user, world):
    api = as_user("auditor")
    body = error_of(api.post("/api/v1/subcontractors", json={"country": "JP"}), 422)
    assert set(body["errors"]) == {"name", "tier"}
    body = error_of(
        api.post("/api/v1/subcontractors", json={"name": "X", "country": "Japan", "tier": 1}),
        422,
    )
    assert body["errors"] == {"country": [body["message"]]}
    body = error_of(
        api.post(
            "/api/v1/subcontractors",
            json={"name": "X", "country": "JP", "tier": 1, "colour": "red"},
        ),
        422,
    )
    assert body["errors"] == {"colour": ["Unknown field."]}
    body = error_of(
        api.post(
            "/api/v1/subcontractors",
            json={"name": "X", "country": "JP", "tier": 1, "contract_start": "soon"},
        ),
        422,
    )
    assert "contract_start" in body["errors"]
    body = error_of(
        api.post(
            "/api/v1/subcontractors",
            json={"name": "X", "country": "JP", "tier": 1, "data_categories": [1, "ok"]},
        ),
        422,
    )
    assert "data_categories.0" in body["errors"]


def test_duplicate_name_is_409(as_user, world):
    body = error_of(
        as_user("auditor").post(
            "/api/v1/subcontractors", json={"name": "Aozora Cloud", "country": "JP", "tier": 1}
        ),
        409,
    )
    assert "already exists" in body["message"]


def test_viewers_and_reviewers_cannot_manage(as_user, world):
    for who in ("viewer", "reviewer"):
        api = as_user(who, "admin")
        error_of(
            api.post("/api/v1/subcontractors", json={"name": "Y", "country": "JP", "tier": 1}),
            403,
        )
        error_of(
            api.patch(
                f"/api/v1/subcontractors/{world['subcontractor_id']}", json={"tier": 3}, etag="*"
            ),
            403,
        )


def test_filters_and_stable_sorting(as_user, world):
    admin = as_user("admin")
    for name, tier, country in (
        ("Beta", 2, "JP"),
        ("Alpha", 3, "US"),
        ("Gamma", 2, "SG"),
        ("Delta", 2, "JP"),
    ):
        add(admin, name, tier=tier, country=country)
    api = as_user("viewer", "read")
    names = [s["name"] for s in api.get("/api/v1/subcontractors").get_json()]
    assert names == ["Alpha", "Aozora Cloud", "Beta", "Delta", "Gamma"]
    assert [s["name"] for s in api.get("/api/v1/subcontractors?sort=-name").get_json()] == list(
        reversed(names)
    )
    tiers = api.get("/api/v1/subcontractors?sort=tier").get_json()
    assert [(s["tier"], s["name"]) for s in tiers] == sorted(
        ((s["tier"], s["name"]) for s in tiers), key=lambda t: t[0]
    )
    # tier ties are broken by id: insertion order
    assert [s["name"] for s in tiers if s["tier"] == 2] == ["Beta", "Gamma", "Delta"]
    assert [s["name"] for s in api.get("/api/v1/subcontractors?tier=2&country=jp").get_json()] == [
        "Beta",
        "Delta",
    ]
    assert [s["name"] for s in api.get("/api/v1/subcontractors?q=amm").get_json()] == ["Gamma"]
    never = api.get("/api/v1/subcontractors?rating=none").get_json()
    assert len(never) == 5
    overdue = api.get("/api/v1/subcontractors?overdue=true")
    assert overdue.status_code == 200


def test_pages_cover_everything_once(as_user, world):
    admin = as_user("admin")
    for index in range(6):
        add(admin, f"Party {index:02}")
    seen = []
    page = 1
    while page:
        response = admin.get(f"/api/v1/subcontractors?page={page}&page_size=3&sort=id")
        meta = pagination(response)
        assert meta["total"] == 7 and meta["total_pages"] == 3
        seen += [s["id"] for s in response.get_json()]
        page = meta.get("next_page")
    assert seen == sorted(seen) and len(set(seen)) == 7


def test_bad_query_parameters_are_422(as_user, world):
    api = as_user("viewer", "read")
    assert "tier" in error_of(api.get("/api/v1/subcontractors?tier=9"), 422)["errors"]
    assert "sort" in error_of(api.get("/api/v1/subcontractors?sort=colour"), 422)["errors"]
    assert "page_size" in error_of(api.get("/api/v1/subcontractors?page_size=1000"), 422)["errors"]
    assert "page" in error_of(api.get("/api/v1/subcontractors?page=0"), 422)["errors"]


def test_unknown_subcontractor_is_404(as_user, world, app):
    api = as_user("admin")
    error_of(api.get("/api/v1/subcontractors/999"), 404)
    error_of(api.patch("/api/v1/subcontractors/999", json={"tier": 1}, etag="*"), 404)
    error_of(api.delete("/api/v1/subcontractors/999", etag="*"), 404)
    with app.app_context():
        assert db.session.get(Subcontractor, 999) is None
