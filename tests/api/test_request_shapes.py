"""Requests whose shape the OpenAPI document refuses are refused, and nothing changes."""

from __future__ import annotations

import io

from tests.api.conftest import error_of, first_items


def test_a_required_json_body_left_out_is_400_and_changes_nothing(as_user, world):
    auditor = as_user("auditor")
    sid, aid = world["subcontractor_id"], world["assessment_id"]
    before = auditor.get(f"/api/v1/subcontractors/{sid}").get_json()
    own = auditor.get(f"/api/v1/subcontractors/{sid}").headers["ETag"]
    body = error_of(auditor.patch(f"/api/v1/subcontractors/{sid}", etag=own), 400)
    assert "JSON" in body["message"]
    assert auditor.get(f"/api/v1/subcontractors/{sid}").get_json() == before
    etag = auditor.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    error_of(auditor.patch(f"/api/v1/assessments/{aid}", etag=etag), 400)
    error_of(auditor.patch(f"/api/v1/assessments/{aid}/answers", etag=etag), 400)
    # nothing was written: the ETag is the same
    assert auditor.get(f"/api/v1/assessments/{aid}").headers["ETag"] == etag
    # an optional body (approve) may still be left out: that request reaches the service
    error_of(auditor.post(f"/api/v1/assessments/{aid}/approve", etag=etag), 409)  # not submitted


def test_returning_needs_a_comment_before_anything_else(app, as_user, world):
    """The document says the comment is required to return; the API refuses its absence."""
    reviewer = as_user("reviewer")
    aid = world["assessment_id"]
    etag = reviewer.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    body = error_of(reviewer.post(f"/api/v1/assessments/{aid}/return", json={}, etag=etag), 422)
    assert list(body["errors"]) == ["comment"]


def test_an_upload_with_unknown_form_fields_is_refused(app, as_user, world):
    auditor = as_user("auditor")
    aid = world["assessment_id"]
    ref = first_items(app, count=1)[0]
    url = f"/api/v1/assessments/{aid}/evidence?item_ref={ref}"
    body = error_of(
        auditor.post(
            url,
            data={"file": (io.BytesIO(b"x"), "a.txt"), "owner": "me"},
            content_type="multipart/form-data",
        ),
        422,
    )
    assert body["errors"] == {"owner": ["unknown field"]}
    assert auditor.get(f"/api/v1/assessments/{aid}/evidence").get_json() == []
    made = auditor.post(
        url, data={"file": (io.BytesIO(b"x"), "a.txt")}, content_type="multipart/form-data"
    )
    assert made.status_code == 201, made.get_json()
