"""API: CSV and OSCAL exports; webhook registration and delivery outcomes (admins)."""

import csv
import io

from trestle.oscal.assessment_results import AssessmentResults

from audit.extensions import db
from tests.api.conftest import error_of, pagination
from tests.test_webhooks import SECRET, Receiver, run_once


def test_answers_csv(as_user, world):
    api = as_user("viewer", "read")
    response = api.get(f"/api/v1/assessments/{world['assessment_id']}/answers.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["ref"] == "SO-1.1" and rows[0]["answer"] == ""
    error_of(api.get("/api/v1/assessments/999/answers.csv"), 404)


def test_oscal_export_validates(as_user, world):
    api = as_user("auditor", "write")
    aid = world["assessment_id"]
    etag = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    saved = api.patch(
        f"/api/v1/assessments/{aid}/answers",
        etag=etag,
        json={"answers": [{"ref": "SO-1.1", "status": "non_compliant", "comment": "No register"}]},
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    response = api.get(f"/api/v1/assessments/{aid}/oscal")
    assert response.status_code == 200
    model = AssessmentResults.model_validate(response.get_json()["assessment-results"])
    assert [f.target.target_id for f in model.results[0].findings] == ["SO-1.1"]


def test_exports_need_a_token(anonymous, world):
    error_of(anonymous.get(f"/api/v1/assessments/{world['assessment_id']}/oscal"), 401)


def test_webhooks_are_for_admins_with_admin_scope(as_user):
    body = {
        "url": "https://receiver.example/hook",
        "secret": SECRET,
        "events": ["assessment.approved"],
    }
    error_of(as_user("auditor", "admin").post("/api/v1/webhooks", json=body), 403)
    error_of(as_user("admin", "write").post("/api/v1/webhooks", json=body), 403)
    error_of(as_user("admin", "read").get("/api/v1/webhooks"), 403)
    made = as_user("admin", "admin").post("/api/v1/webhooks", json=body)
    assert made.status_code == 201
    assert "secret" not in made.get_json()


def test_webhook_validation_names_fields(as_user):
    api = as_user("admin", "admin")
    bad = error_of(
        api.post(
            "/api/v1/webhooks",
            json={"url": "https://x.example", "secret": "short", "events": ["assessment.deleted"]},
        ),
        422,
    )
    assert "secret" in bad["errors"] and any(k.startswith("events") for k in bad["errors"])
    scheme = error_of(
        api.post(
            "/api/v1/webhooks",
            json={"url": "ftp://x.example", "secret": SECRET, "events": ["assessment.approved"]},
        ),
        422,
    )
    assert "url" in scheme["errors"]


def test_delivery_outcomes_are_visible_and_retryable(app, as_user, world):
    admin = as_user("admin", "admin")
    auditor = as_user("auditor", "write")
    failing = Receiver(status=503)
    try:
        hook = admin.post(
            "/api/v1/webhooks",
            json={"url": failing.url, "secret": SECRET, "events": ["assessment.submitted"]},
        ).get_json()
        aid = world["assessment_id"]
        from tests.api.conftest import all_items

        etag = auditor.get(f"/api/v1/assessments/{aid}").headers["ETag"]
        auditor.patch(
            f"/api/v1/assessments/{aid}/answers",
            etag=etag,
            json={"answers": [{"ref": ref, "status": "compliant"} for ref in all_items(app)]},
        )
        etag = auditor.get(f"/api/v1/assessments/{aid}").headers["ETag"]
        assert auditor.post(f"/api/v1/assessments/{aid}/submit", etag=etag).status_code == 200
        with app.app_context():
            assert run_once(db.session, "api-test") == 1
        listing = admin.get("/api/v1/webhooks/deliveries?state=pending")
        assert pagination(listing)["total"] == 1
        [delivery] = listing.get_json()
        assert delivery["attempts"] == 1 and delivery["last_status"] == 503
        assert delivery["webhook_id"] == hook["id"]
        again = admin.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/retry")
        assert again.status_code == 200 and again.get_json()["attempts"] == 0  # due now
        error_of(admin.post("/api/v1/webhooks/deliveries/999/retry"), 404)
        paused = admin.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"active": False}, etag=f'"{hook["etag"]}"'
        )
        assert paused.status_code == 200 and paused.get_json()["active"] is False
    finally:
        failing.close()
