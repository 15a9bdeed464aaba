"""Assessments over the API: lists, create, ETags with If-Match, delete, and the workflow."""

from __future__ import annotations

from datetime import date

from sqlmodel import func, select

from audit.extensions import db
from audit.models import Assessment, AuditEvent, User
from audit.services import assessments as svc
from tests import factories
from tests.api.conftest import SO, all_items, error_of, pagination


def stored(app, assessment_id: int) -> Assessment | None:
    with app.app_context():
        return db.session.get(Assessment, assessment_id)


def etag_of(api, assessment_id: int) -> str:
    response = api.get(f"/api/v1/assessments/{assessment_id}")
    assert response.status_code == 200
    return response.headers["ETag"]


def create(api, world, **fields):
    body = {
        "subcontractor_id": world["subcontractor_id"],
        "checklist_version_id": world["version_id"],
        "auditor_ids": [world["auditor"]],
        "reviewer_id": world["reviewer"],
        "due_date": "2026-12-01",
        **fields,
    }
    return api.post("/api/v1/assessments", json=body)


def answer_everything(api, app, assessment_id: int, status: str = "compliant") -> str:
    etag = etag_of(api, assessment_id)
    answers = [{"ref": ref, "status": status, "comment": "checked"} for ref in all_items(app)]
    response = api.patch(
        f"/api/v1/assessments/{assessment_id}/answers", json={"answers": answers}, etag=etag
    )
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


# ------------------------------------------------------------------------------ reading


def test_get_carries_an_etag_and_honours_if_none_match(as_user, world):
    api = as_user("viewer", "read")
    url = f"/api/v1/assessments/{world['assessment_id']}"
    response = api.get(url)
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'"a{body["id"]}-r{body["revision"]}"'
    assert body["etag"] == response.headers["ETag"].strip('"')
    assert body["state"] == "draft" and body["auditor_ids"] == [world["auditor"]]
    assert body["checklist"] == SO and body["version"] == "1.0.0"
    cached = api.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304 and cached.get_data() == b""


def test_unknown_assessment_is_404_everywhere(as_user, world):
    api = as_user("admin")
    for method, path in (
        ("GET", "/api/v1/assessments/999"),
        ("GET", "/api/v1/assessments/999/answers"),
        ("GET", "/api/v1/assessments/999/score"),
        ("GET", "/api/v1/assessments/999/evidence"),
        ("PATCH", "/api/v1/assessments/999"),
        ("POST", "/api/v1/assessments/999/submit"),
    ):
        kwargs = {"etag": '"a999-r1"'} if method != "GET" else {}
        if method == "PATCH":
            kwargs["json"] = {"title": "x"}
        error_of(api.request(method, path, **kwargs), 404)


def test_filters_and_stable_sort(app, as_user, world):
    with app.app_context():
        auditor = db.session.get(User, world["auditor"])
        other_company = factories.subcontractor(
            db.session, db.session.get(User, world["admin"]), name="Umi Systems"
        )
        for slug, due, company in (
            ("security-governance", "2026-03-01", world["subcontractor_id"]),
            (SO, "2026-01-15", other_company.id),
            (SO, None, other_company.id),
        ):
            made = svc.create(
                db.session,
                auditor,
                subcontractor_id=company,
                checklist_version_id=factories.version(db.session, slug).id,
                auditor_ids=[world["auditor"]],
                reviewer_id=world["reviewer"],
                due_date=date.fromisoformat(due or "2030-01-01"),
            )
            if due is None:  # an undated assessment from before due dates were required
                made.due_date = None
                db.session.add(made)
        db.session.commit()
        umi = other_company.id
    api = as_user("viewer", "read")
    everything = api.get("/api/v1/assessments")
    assert pagination(everything)["total"] == 4
    ids = [a["id"] for a in everything.get_json()]
    assert ids == sorted(ids)
    assert [a["id"] for a in api.get("/api/v1/assessments?sort=-id").get_json()] == ids[::-1]
    by_due = [a["due_date"] for a in api.get("/api/v1/assessments?sort=due_date").get_json()]
    assert by_due == ["2026-01-15", "2026-03-01", "2027-03-31", None]
    by_due_desc = [a["due_date"] for a in api.get("/api/v1/assessments?sort=-due_date").get_json()]
    assert by_due_desc == ["2027-03-31", "2026-03-01", "2026-01-15", None]
    assert len(api.get(f"/api/v1/assessments?subcontractor_id={umi}").get_json()) == 2
    assert len(api.get("/api/v1/assessments?checklist=security-governance").get_json()) == 1
    assert len(api.get(f"/api/v1/assessments?checklist={SO}").get_json()) == 3
    assert len(api.get("/api/v1/assessments?due_before=2026-02-01").get_json()) == 1
    assert len(api.get("/api/v1/assessments?due_after=2026-02-01").get_json()) == 2
    assert len(api.get("/api/v1/assessments?state=draft").get_json()) == 4
    assert api.get("/api/v1/assessments?state=approved").get_json() == []
    assert api.get("/api/v1/assessments?mine=true").get_json() == []
    assert len(as_user("reviewer", "read").get("/api/v1/assessments?mine=1").get_json()) == 4
    assert "state" in error_of(api.get("/api/v1/assessments?state=lost"), 422)["errors"]
    assert "due_before" in error_of(api.get("/api/v1/assessments?due_before=x"), 422)["errors"]
    page = api.get("/api/v1/assessments?page_size=3&page=2")
    assert [a["id"] for a in page.get_json()] == ids[3:]
    assert pagination(page)["previous_page"] == 1


# ------------------------------------------------------------------------------ creating


def test_create_returns_201_with_etag_and_location(app, as_user, world):
    response = create(as_user("auditor"), world, title="Annual 2026")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["title"] == "Annual 2026" and body["revision"] == 1
    assert response.headers["ETag"] == f'"a{body["id"]}-r1"'
    assert response.headers["Location"].endswith(f"/api/v1/assessments/{body['id']}")
    assert stored(app, body["id"]).created_by_id == world["auditor"]


def test_create_refusals(as_user, world):
    api = as_user("auditor")
    body = error_of(create(api, world, auditor_ids=[world["viewer"]]), 422)
    assert list(body["errors"]) == ["auditor_ids"]
    body = error_of(
        create(api, world, reviewer_id=world["auditor"], auditor_ids=[world["auditor"]]), 422
    )
    assert list(body["errors"]) == ["reviewer_id"]
    body = error_of(create(api, world, subcontractor_id=999), 422)
    assert list(body["errors"]) == ["subcontractor_id"]
    body = error_of(create(api, world, period_start="2026-05-01", period_end="2026-04-01"), 422)
    assert list(body["errors"]) == ["period_end"]
    body = error_of(api.post("/api/v1/assessments", json={}), 422)
    assert {"subcontractor_id", "checklist_version_id", "auditor_ids"} <= set(body["errors"])
    error_of(create(as_user("reviewer"), world), 403)
    error_of(create(as_user("auditor", "read"), world), 403)


# ------------------------------------------------------------------------------ If-Match


def test_patch_needs_if_match_and_a_current_etag(app, as_user, world):
    api = as_user("auditor")
    url = f"/api/v1/assessments/{world['assessment_id']}"
    before = stored(app, world["assessment_id"])

    body = error_of(api.patch(url, json={"title": "Renamed"}), 428)
    assert "If-Match" in body["message"]
    body = error_of(api.patch(url, json={"title": "Renamed"}, etag='"a1-r99"'), 412)
    assert "out of date" in body["message"] and "nothing was saved" in body["message"]
    error_of(api.patch(url, json={"title": "Renamed"}, etag="W/" + etag_of(api, before.id)), 412)
    after = stored(app, world["assessment_id"])
    assert (after.title, after.revision) == (before.title, before.revision)

    etag = etag_of(api, world["assessment_id"])
    response = api.patch(url, json={"title": "Renamed", "due_date": "2027-01-31"}, etag=etag)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "Renamed"
    assert response.headers["ETag"] != etag
    # the old ETag is now stale
    error_of(api.patch(url, json={"title": "Again"}, etag=etag), 412)
    assert stored(app, world["assessment_id"]).title == "Renamed"
    with app.app_context():
        assert (
            db.session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "assessment.updated")
            ).one()
            == 1
        )


def test_patch_refusals(as_user, world):
    url = f"/api/v1/assessments/{world['assessment_id']}"
    api = as_user("auditor")
    body = error_of(
        api.patch(url, json={"title": " "}, etag=etag_of(api, world["assessment_id"])), 422
    )
    assert list(body["errors"]) == ["title"]
    body = error_of(
        api.patch(
            url, json={"reviewer_id": world["viewer"]}, etag=etag_of(api, world["assessment_id"])
        ),
        422,
    )
    assert list(body["errors"]) == ["reviewer_id"]
    body = error_of(
        api.patch(url, json={"state": "approved"}, etag=etag_of(api, world["assessment_id"])), 422
    )
    assert body["errors"] == {"state": ["Unknown field."]}
    other = as_user("auditor2")
    error_of(
        other.patch(url, json={"title": "Mine"}, etag=etag_of(other, world["assessment_id"])), 403
    )


def test_delete_draft(app, as_user, world):
    url = f"/api/v1/assessments/{world['assessment_id']}"
    error_of(as_user("auditor").delete(url), 428)
    error_of(as_user("auditor").delete(url, etag='"a1-r7"'), 412)
    other = as_user("auditor2")
    error_of(other.delete(url, etag=etag_of(other, world["assessment_id"])), 403)
    assert stored(app, world["assessment_id"]) is not None
    api = as_user("auditor")  # the creator
    response = api.delete(url, etag=etag_of(api, world["assessment_id"]))
    assert response.status_code == 204 and response.get_data() == b""
    assert stored(app, world["assessment_id"]) is None
    error_of(api.get(url), 404)


def test_delete_refused_once_answered(app, as_user, world):
    api = as_user("admin")
    ref = all_items(app)[0]
    auditor = as_user("auditor")
    auditor.put(
        f"/api/v1/assessments/{world['assessment_id']}/answers/{ref}",
        json={"status": "compliant"},
        etag=etag_of(auditor, world["assessment_id"]),
    )
    url = f"/api/v1/assessments/{world['assessment_id']}"
    body = error_of(api.delete(url, etag=etag_of(api, world["assessment_id"])), 409)
    assert "in_progress" in body["message"] or "answer" in body["message"]
    assert stored(app, world["assessment_id"]) is not None


# ------------------------------------------------------------------------------ workflow


def test_submit_not_ready_lists_problems(app, as_user, world):
    api = as_user("auditor")
    url = f"/api/v1/assessments/{world['assessment_id']}/submit"
    error_of(api.post(url), 428)
    body = error_of(api.post(url, etag=etag_of(api, world["assessment_id"])), 409)
    problems = body["problems"]
    assert len(problems) == len(all_items(app))
    assert problems[0]["kind"] == "unanswered" and problems[0]["ref"] == all_items(app)[0]
    assert stored(app, world["assessment_id"]).state == "draft"


def test_full_workflow_submit_return_resubmit_approve(app, as_user, world):
    auditor, reviewer = as_user("auditor"), as_user("reviewer")
    aid = world["assessment_id"]
    answer_everything(auditor, app, aid)
    response = auditor.post(f"/api/v1/assessments/{aid}/submit", etag=etag_of(auditor, aid))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "submitted"
    assert response.get_json()["score_snapshot"]["rating"] == "A"

    # the auditor cannot review; the reviewer's read token cannot either
    error_of(auditor.post(f"/api/v1/assessments/{aid}/approve", etag=etag_of(auditor, aid)), 403)
    error_of(
        as_user("reviewer", "read").post(
            f"/api/v1/assessments/{aid}/approve", etag=etag_of(reviewer, aid)
        ),
        403,
    )
    # returning needs a comment
    body = error_of(
        reviewer.post(f"/api/v1/assessments/{aid}/return", json={}, etag=etag_of(reviewer, aid)),
        422,
    )
    assert list(body["errors"]) == ["comment"]
    response = reviewer.post(
        f"/api/v1/assessments/{aid}/return",
        json={"comment": "Attach the register."},
        etag=etag_of(reviewer, aid),
    )
    assert response.status_code == 200 and response.get_json()["state"] == "returned"
    assert response.get_json()["review_comment"] == "Attach the register."

    response = auditor.post(f"/api/v1/assessments/{aid}/submit", etag=etag_of(auditor, aid))
    assert response.status_code == 200
    etag = etag_of(reviewer, aid)
    response = reviewer.post(
        f"/api/v1/assessments/{aid}/approve", json={"comment": "Good."}, etag=etag
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"] == "approved" and body["editable"] is False
    # approving again with the old ETag: the service's decision, in its order, as on the page:
    # the assessment is approved, so it is not in a state to approve (409) whatever the ETag
    error_of(reviewer.post(f"/api/v1/assessments/{aid}/approve", etag=etag), 409)
    # frozen: no more answers
    error_of(
        auditor.put(
            f"/api/v1/assessments/{aid}/answers/{all_items(app)[0]}",
            json={"status": "partial"},
            etag=etag_of(auditor, aid),
        ),
        409,
    )


def test_approve_without_body(app, as_user, world):
    auditor, reviewer = as_user("auditor"), as_user("reviewer")
    aid = world["assessment_id"]
    answer_everything(auditor, app, aid)
    auditor.post(f"/api/v1/assessments/{aid}/submit", etag=etag_of(auditor, aid))
    response = reviewer.post(f"/api/v1/assessments/{aid}/approve", etag=etag_of(reviewer, aid))
    assert response.status_code == 200 and response.get_json()["state"] == "approved"
