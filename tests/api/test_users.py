"""The people directory over the API: who sees whom, e-mail privacy, filters and pages."""

from __future__ import annotations

from audit.extensions import db
from audit.models import User
from tests import factories
from tests.api.conftest import error_of, pagination

EVERYONE = {"admin", "auditor", "auditor2", "reviewer", "viewer"}


def by_id(world, response) -> dict[str, dict]:
    """The people of a list answer by role name in ``world`` (admin, auditor, ...)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    ids = {world[who]: who for who in EVERYONE}
    return {ids[person["id"]]: person for person in response.get_json() if person["id"] in ids}


def deactivate(app, user_id: int) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        user.active = False
        db.session.commit()


def test_admins_see_every_account_with_its_email(as_user, world, app):
    deactivate(app, world["auditor2"])
    seen = by_id(world, as_user("admin", "read").get("/api/v1/users"))
    assert set(seen) == EVERYONE
    assert seen["viewer"]["email"] == "viewer@example.com"
    assert seen["auditor2"]["active"] is False
    assert set(seen["auditor"]) == {"id", "name", "email", "role", "active"}


def test_others_see_the_people_they_can_assign_without_their_emails(as_user, world):
    for who in ("auditor", "reviewer", "viewer"):
        seen = by_id(world, as_user(who, "read").get("/api/v1/users"))
        # every active auditor, reviewer and admin, and themselves; no other viewer
        assert set(seen) == {"admin", "auditor", "auditor2", "reviewer"} | {who}, who
        for other, person in seen.items():
            expected = f"{other}@example.com" if other == who else None
            assert person["email"] == expected, (who, other)
            assert person["name"] and person["role"]


def test_inactive_people_are_seen_only_by_those_who_worked_with_them(app, as_user, world):
    with app.app_context():
        people = factories.Team(
            *(
                db.session.get(User, world[r])
                for r in ("admin", "auditor", "auditor2", "reviewer", "viewer")
            )
        )
        factories.assessment(
            db.session,
            people,
            company=factories.subcontractor(db.session, people.admin, "Shared Co"),
            auditor_ids=[people.auditor.id, people.auditor2.id],
        )
    deactivate(app, world["auditor2"])
    for who in ("auditor", "reviewer"):  # on the same assessment: auditor and reviewer
        assert "auditor2" in by_id(world, as_user(who, "read").get("/api/v1/users")), who
        one = as_user(who, "read").get(f"/api/v1/users/{world['auditor2']}")
        assert one.status_code == 200 and one.get_json()["active"] is False
    assert "auditor2" not in by_id(world, as_user("viewer", "read").get("/api/v1/users"))
    error_of(as_user("viewer", "read").get(f"/api/v1/users/{world['auditor2']}"), 404)


def test_one_person_hidden_or_missing_is_404(as_user, world):
    auditor = as_user("auditor", "read")
    error_of(auditor.get(f"/api/v1/users/{world['viewer']}"), 404)
    error_of(auditor.get("/api/v1/users/999999"), 404)
    own = as_user("viewer", "read").get(f"/api/v1/users/{world['viewer']}")
    assert own.status_code == 200 and own.get_json()["email"] == "viewer@example.com"
    admin = as_user("admin", "read").get(f"/api/v1/users/{world['viewer']}")
    assert admin.get_json() == {
        "id": world["viewer"],
        "name": "viewer",
        "email": "viewer@example.com",
        "role": "viewer",
        "active": True,
    }


def test_filters_and_pages(app, as_user, world):
    admin = as_user("admin", "read")
    assert set(by_id(world, admin.get("/api/v1/users?role=auditor"))) == {"auditor", "auditor2"}
    deactivate(app, world["auditor2"])
    assert set(by_id(world, admin.get("/api/v1/users?active=false"))) == {"auditor2"}
    assert "auditor2" not in by_id(world, admin.get("/api/v1/users?active=true"))
    first = admin.get("/api/v1/users?page_size=2")
    second = admin.get("/api/v1/users?page_size=2&page=2")
    assert pagination(first)["total"] == 5
    assert len(first.get_json()) == 2 and len(second.get_json()) == 2
    assert not {p["id"] for p in first.get_json()} & {p["id"] for p in second.get_json()}
    body = error_of(admin.get("/api/v1/users?role=boss"), 422)
    assert "role" in str(body["errors"])


def test_an_auditor_token_fills_auditor_ids_and_reviewer_id_from_the_directory(as_user, world):
    auditor = as_user("auditor", "write")
    auditors = auditor.get("/api/v1/users?role=auditor&active=true").get_json()
    reviewers = auditor.get("/api/v1/users?role=reviewer&active=true").get_json()
    created = auditor.post(
        "/api/v1/assessments",
        json={
            "subcontractor_id": world["subcontractor_id"],
            "checklist_version_id": world["version_id"],
            "auditor_ids": [p["id"] for p in auditors],
            "reviewer_id": reviewers[0]["id"],
            "due_date": "2031-03-31",
        },
    )
    assert created.status_code == 201, created.get_json()
    assert sorted(created.get_json()["auditor_ids"]) == sorted(
        [world["auditor"], world["auditor2"]]
    )
    assert created.get_json()["reviewer_id"] == world["reviewer"]
