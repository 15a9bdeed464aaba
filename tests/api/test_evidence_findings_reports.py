"""Evidence (multipart upload, download), findings (read, remediation) and the PDF report."""

from __future__ import annotations

import hashlib
import io

import pytest
from sqlmodel import func, select

from audit.extensions import db
from audit.models import Evidence, Finding
from tests.api.conftest import all_items, error_of, pagination


def send_file(
    api,
    aid: int,
    data: bytes,
    name: str = "policy.pdf",
    item_ref: str | None = None,
    content_type: str = "application/pdf",
):
    url = f"/api/v1/assessments/{aid}/evidence"
    if item_ref:
        url += f"?item_ref={item_ref}"
    return api.post(
        url,
        data={"file": (io.BytesIO(data), name, content_type)},
        content_type="multipart/form-data",
    )


def evidence_count(app) -> int:
    with app.app_context():
        return db.session.exec(select(func.count()).select_from(Evidence)).one()


# ------------------------------------------------------------------------------ evidence


def test_upload_list_read_download(app, as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    ref = all_items(app)[0]
    data = b"%PDF-1.4 pretend policy"
    response = send_file(api, aid, data, name="../../secret/Policy v2.pdf", item_ref=ref)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["filename"] == "Policy v2.pdf"  # the folder part is dropped
    assert body["sha256"] == hashlib.sha256(data).hexdigest() and body["size"] == len(data)
    assert body["item_ref"] == ref and body["content_type"] == "application/pdf"
    assert response.headers["Location"].endswith(f"/api/v1/evidence/{body['id']}")

    send_file(api, aid, b"MZ\x90\x00", name="tool.exe", content_type="application/x-msdownload")
    reader = as_user("viewer", "read")
    listed = reader.get(f"/api/v1/assessments/{aid}/evidence")
    assert [e["filename"] for e in listed.get_json()] == ["Policy v2.pdf", "tool.exe"]
    assert listed.get_json()[1]["content_type"] == "application/octet-stream"
    assert pagination(listed)["total"] == 2

    one = reader.get(f"/api/v1/evidence/{body['id']}")
    assert one.status_code == 200 and one.get_json()["item_ref"] == ref
    download = reader.get(body["download"])
    assert download.status_code == 200 and download.get_data() == data
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    error_of(reader.get("/api/v1/evidence/999"), 404)
    error_of(reader.get("/api/v1/evidence/999/download"), 404)


def test_upload_refusals(app, as_user, world):
    api = as_user("auditor")
    aid = world["assessment_id"]
    app.config["MAX_EVIDENCE_BYTES"] = 10
    body = error_of(send_file(api, aid, b"x" * 11), 422)
    assert "limit" in body["errors"]["file"][0]
    body = error_of(send_file(api, aid, b""), 422)
    assert "empty" in body["errors"]["file"][0]
    body = error_of(send_file(api, aid, b"ok", name=".htaccess"), 422)
    assert "file" in body["errors"]
    body = error_of(send_file(api, aid, b"ok", item_ref="ZZ-1"), 422)
    assert "item_ref" in body["errors"]
    body = error_of(
        api.post(
            f"/api/v1/assessments/{aid}/evidence", data={}, content_type="multipart/form-data"
        ),
        422,
    )
    assert body["errors"] == {"file": ["Missing data for required field."]}
    error_of(api.post(f"/api/v1/assessments/{aid}/evidence", json={"file": "eA=="}), 415)
    assert evidence_count(app) == 0


def test_body_over_the_request_limit_is_413_json(app, as_user, world):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = error_of(send_file(as_user("auditor"), world["assessment_id"], b"x" * 4096), 413)
    assert "Large" in body["status"]
    assert evidence_count(app) == 0


def test_who_may_upload(app, as_user, world):
    aid = world["assessment_id"]
    error_of(send_file(as_user("viewer", "admin"), aid, b"x"), 403)
    error_of(send_file(as_user("auditor2"), aid, b"x"), 403)
    error_of(send_file(as_user("auditor", "read"), aid, b"x"), 403)
    assert evidence_count(app) == 0


# ------------------------------------------------------------------------------ findings


def make_findings(app, api, aid: int) -> list[str]:
    refs = all_items(app)
    url = f"/api/v1/assessments/{aid}/answers"
    response = api.patch(
        url,
        json={
            "answers": [
                {"ref": refs[0], "status": "non_compliant", "comment": "none"},
                {"ref": refs[1], "status": "partial", "comment": "some"},
                {"ref": refs[2], "status": "compliant"},
            ]
        },
        etag=api.get(url).headers["ETag"],
    )
    assert response.status_code == 200
    return refs


def test_findings_are_listed_read_and_updated(app, as_user, world):
    auditor = as_user("auditor")
    aid = world["assessment_id"]
    refs = make_findings(app, auditor, aid)
    reader = as_user("viewer", "read")
    listed = reader.get(f"/api/v1/findings?assessment_id={aid}")
    assert listed.status_code == 200
    found = listed.get_json()
    assert sorted(f["item_ref"] for f in found) == sorted(refs[:2])
    severities = [f["severity"] for f in found]
    order = ["critical", "high", "medium", "low"]
    assert severities == sorted(severities, key=order.index)
    assert pagination(listed)["total"] == 2
    assert [f["id"] for f in reader.get("/api/v1/findings?sort=id").get_json()] == sorted(
        f["id"] for f in found
    )
    assert reader.get("/api/v1/findings?status=closed").get_json() == []
    assert len(reader.get("/api/v1/findings?current=true").get_json()) == 2

    finding_id = found[0]["id"]
    one = reader.get(f"/api/v1/findings/{finding_id}")
    assert one.status_code == 200 and one.get_json()["status"] == "open"
    assert one.headers["ETag"] == f'"f{finding_id}-r1"'
    response = auditor.patch(
        f"/api/v1/findings/{finding_id}",
        json={
            "remediation_plan": "Build the register",
            "owner": "CISO",
            "due_date": "2026-09-30",
            "status": "in_remediation",
        },
        etag=one.headers["ETag"],
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == f'"f{finding_id}-r2"'
    assert response.get_json()["owner"] == "CISO"
    # the reviewer may edit too, a partial change keeps the rest
    response = as_user("reviewer").patch(
        f"/api/v1/findings/{finding_id}", json={"status": "closed"}, etag=response.headers["ETag"]
    )
    assert response.status_code == 200
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        assert (finding.status, finding.owner, finding.remediation_plan) == (
            "closed",
            "CISO",
            "Build the register",
        )


def test_finding_refusals(app, as_user, world):
    auditor = as_user("auditor")
    make_findings(app, auditor, world["assessment_id"])
    finding_id = as_user("viewer", "read").get("/api/v1/findings").get_json()[0]["id"]
    url = f"/api/v1/findings/{finding_id}"
    etag = auditor.get(url).headers["ETag"]
    bad = error_of(auditor.patch(url, json={"status": "done"}, etag=etag), 422)
    assert "status" in bad["errors"]
    bad = error_of(auditor.patch(url, json={"owner": "x" * 201}, etag=etag), 422)
    assert "owner" in bad["errors"]
    error_of(as_user("auditor2").patch(url, json={"owner": "me"}, etag=etag), 403)
    error_of(as_user("viewer", "admin").patch(url, json={"owner": "me"}, etag=etag), 403)
    error_of(as_user("auditor", "read").patch(url, json={"owner": "me"}, etag=etag), 403)
    error_of(auditor.get("/api/v1/findings/999"), 404)
    error_of(auditor.patch("/api/v1/findings/999", json={"owner": "x"}, etag="*"), 404)
    assert auditor.get(url).headers["ETag"] == etag  # refusals change nothing


# ------------------------------------------------------------------------------ report


@pytest.mark.pdf
def test_report_pdf_in_english_and_japanese(app, as_user, world):
    api = as_user("viewer", "read")
    aid = world["assessment_id"]
    response = api.get(f"/api/v1/assessments/{aid}/report.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Report-Cached"] == "false"  # a draft is drawn afresh
    japanese = api.get(f"/api/v1/assessments/{aid}/report.pdf?lang=ja")
    assert japanese.status_code == 200 and japanese.get_data().startswith(b"%PDF")
    assert "-ja" in japanese.headers["Content-Disposition"]


def test_report_refusals(as_user, world):
    api = as_user("viewer", "read")
    body = error_of(
        api.get(f"/api/v1/assessments/{world['assessment_id']}/report.pdf?lang=fr"), 422
    )
    assert "lang" in body["errors"]
    error_of(api.get("/api/v1/assessments/999/report.pdf"), 404)
