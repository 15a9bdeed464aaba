"""API: CSV and OSCAL exports; webhook registration and delivery outcomes (admins)."""

import csv
import hashlib
import io

from sqlmodel import select

from audit.extensions import db
from audit.models import Finding
from audit.services import findings as finding_svc
from audit.vocabulary import FindingStatus
from tests.api.conftest import error_of, pagination
from tests.api.test_evidence_findings_reports import send_file
from tests.oscal import valid_assessment_results, valid_poam
from tests.test_webhooks import SECRET, Receiver, run_once


def test_answers_csv(as_user, world):
    api = as_user("viewer", "read")
    response = api.get(f"/api/v1/assessments/{world['assessment_id']}/answers.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0]["ref"] == "SO-1.1" and rows[0]["answer"] == ""
    error_of(api.get("/api/v1/assessments/999/answers.csv"), 404)


def save_gaps(api, aid, gaps):
    etag = api.get(f"/api/v1/assessments/{aid}").headers["ETag"]
    answers = [
        {"ref": ref, "status": status, "comment": comment}
        for ref, (status, comment) in gaps.items()
    ]
    saved = api.patch(f"/api/v1/assessments/{aid}/answers", etag=etag, json={"answers": answers})
    assert saved.status_code == 200, saved.get_data(as_text=True)


def test_oscal_export_validates(as_user, world):
    api = as_user("auditor", "write")
    aid = world["assessment_id"]
    save_gaps(api, aid, {"SO-1.1": ("non_compliant", "No register")})
    response = api.get(f"/api/v1/assessments/{aid}/oscal")
    assert response.status_code == 200
    model = valid_assessment_results(response.get_json())
    assert [f.target.target_id for f in model.results[0].findings] == ["SO-1.1"]


PDF = b"%PDF-1.4 signed contract"


def evidence_link(api, aid):
    made = send_file(api, aid, PDF, "contract.pdf", item_ref="SO-1.1")
    assert made.status_code == 201, made.get_data(as_text=True)
    doc = api.get(f"/api/v1/assessments/{aid}/oscal").get_json()["assessment-results"]
    (resource,) = [r for r in doc["back-matter"]["resources"] if r["title"] == "contract.pdf"]
    return made.get_json()["id"], resource["rlinks"][0]


def test_evidence_links_are_absolute_download_urls_with_the_sha256(as_user, world):
    api = as_user("auditor", "write")
    aid = world["assessment_id"]
    evidence_id, link = evidence_link(api, aid)
    # no KANSA_BASE_URL: the request's own scheme and host
    assert link["href"] == f"http://localhost/api/v1/evidence/{evidence_id}/download"
    assert link["hashes"] == [{"algorithm": "SHA-256", "value": hashlib.sha256(PDF).hexdigest()}]
    # the link downloads the file (with a token), whose SHA-256 is the one stated
    reader = as_user("viewer", "read")
    downloaded = reader.get(link["href"].removeprefix("http://localhost"))
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.get_data()).hexdigest() == link["hashes"][0]["value"]


def test_evidence_links_use_the_configured_base_url(app, as_user, world):
    app.config["BASE_URL"] = "https://kansa.example.co.jp"
    api = as_user("auditor", "write")
    evidence_id, link = evidence_link(api, world["assessment_id"])
    assert link["href"] == f"https://kansa.example.co.jp/api/v1/evidence/{evidence_id}/download"


def set_finding(app, world, ref, **changes):
    from audit.models import ChecklistItem, User

    with app.app_context():
        finding = db.session.exec(
            select(Finding)
            .join(ChecklistItem, ChecklistItem.id == Finding.item_id)
            .where(Finding.assessment_id == world["assessment_id"], ChecklistItem.ref == ref)
        ).one()
        fields = {
            "remediation_plan": finding.remediation_plan,
            "owner": finding.owner,
            "due_date": finding.due_date,
            "status": finding.status,
            **changes,
        }
        finding_svc.update(db.session, db.session.get(User, world["auditor"]), finding, **fields)
        db.session.commit()


def test_poam_of_an_assessment_and_of_every_open_finding(app, as_user, world):
    from datetime import date

    auditor = as_user("auditor", "write")
    reader = as_user("viewer", "read")
    aid = world["assessment_id"]
    # no findings yet: no plan, said in the usual error shape
    error_of(reader.get(f"/api/v1/assessments/{aid}/poam"), 404)
    error_of(reader.get("/api/v1/poam"), 404)
    save_gaps(
        auditor,
        aid,
        {"SO-1.1": ("non_compliant", "No register"), "SO-2.1": ("partial", "Only new vendors")},
    )
    set_finding(
        app,
        world,
        "SO-1.1",
        remediation_plan="Keep a register of subcontractors",
        owner="Tanaka",
        due_date=date(2027, 1, 31),
    )
    set_finding(app, world, "SO-2.1", status=FindingStatus.CLOSED)
    response = reader.get(f"/api/v1/assessments/{aid}/poam")
    assert response.status_code == 200 and response.mimetype == "application/json"
    model = valid_poam(response.get_json())
    assert sorted(i.title.split(":")[0] for i in model.poam_items) == ["SO-1.1", "SO-2.1"]
    every = reader.get("/api/v1/poam")
    assert every.status_code == 200
    doc = valid_poam(every.get_json())
    (item,) = doc.poam_items  # the closed one is not open
    assert item.title.startswith("SO-1.1")
    assert [f.finding_uuid for f in item.related_findings] == [
        f.uuid for f in doc.findings if f.target.target_id == "SO-1.1"
    ]
    risk = next(r for r in doc.risks if r.uuid == item.related_risks[0].risk_uuid)
    assert risk.remediations[0].description == "Keep a register of subcontractors"
    error_of(reader.get("/api/v1/assessments/999/poam"), 404)


def test_exports_need_a_token(anonymous, world):
    error_of(anonymous.get(f"/api/v1/assessments/{world['assessment_id']}/oscal"), 401)
    error_of(anonymous.get(f"/api/v1/assessments/{world['assessment_id']}/poam"), 401)
    error_of(anonymous.get("/api/v1/poam"), 401)


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
