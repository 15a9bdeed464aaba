"""One refusal path: the same request gets the same decision on a page and through the API.

Each case sends one request through both doors (a signed-in page with its form, and the REST
API with a token) and checks that both answer the service's status and name the same fields or
items, every problem at once, and that nothing was saved.
"""

from __future__ import annotations

import io
import re

from sqlmodel import func, select

from audit.extensions import db
from audit.models import Assessment, AuditEvent, Evidence, Subcontractor, User, Webhook
from audit.services import assessments as svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.api.conftest import SO, all_items, error_of
from tests.test_web_assessments import page_token, revision_in, sign_in, stored


def etag_of(api, assessment_id: int) -> str:
    return api.get(f"/api/v1/assessments/{assessment_id}").headers["ETag"]


def field_errors(html: str) -> list[str]:
    """The messages shown beside fields (and above the form) on a re-rendered page."""
    return re.findall(r'<p class="field-error"[^>]*>([^<]+)</p>', html)


def count(app, model) -> int:
    with app.app_context():
        return db.session.exec(select(func.count()).select_from(model)).one()


def answer_all(app, assessment_id: int, user_id: int, status: str = "compliant") -> None:
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, assessment_id)
        checklist = svc.definition(session, assessment)
        inputs = [AnswerInput(item.ref, status, "checked") for item in checklist.items()]
        svc.save_answers(session, session.get(User, user_id), assessment, inputs, None)
        session.commit()


def submitted(app, world) -> int:
    answer_all(app, world["assessment_id"], world["auditor"])
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        svc.submit(session, session.get(User, world["auditor"]), assessment, None)
        session.commit()
    return world["assessment_id"]


def approved(app, world) -> int:
    aid = submitted(app, world)
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, aid)
        svc.approve(session, session.get(User, world["reviewer"]), assessment, None)
        session.commit()
    return aid


def page_save(client, aid: int, answers: dict[str, tuple[str, str]], revision=None):
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    data = {"csrf_token": token, "revision": revision or revision_in(html)}
    for ref, (status, comment) in answers.items():
        data[f"answer-{ref}"], data[f"comment-{ref}"] = status, comment
    return client.post(f"/assessments/{aid}/sections/SO-1", data=data)


def api_save(api, aid: int, answers: dict[str, tuple[str, str]], etag: str):
    body = {"answers": [{"ref": r, "status": s, "comment": c} for r, (s, c) in answers.items()]}
    return api.patch(f"/api/v1/assessments/{aid}/answers", json=body, etag=etag)


# ------------------------------------------------------------------------------ who and when


def test_a_closed_assessment_is_409_on_both_doors(client, app, world, as_user):
    aid = approved(app, world)
    before = stored(app, aid)[1]
    api = as_user("auditor")
    error_of(api_save(api, aid, {"SO-1.1": ("partial", "late")}, etag_of(api, aid)), 409)
    sign_in(client, "auditor")
    page = page_save(client, aid, {"SO-1.1": ("partial", "late")})
    assert page.status_code == 409
    assert "is approved: it accepts no changes" in page.get_data(as_text=True)
    assert stored(app, aid)[1] == before


def test_someone_not_assigned_is_403_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    api = as_user("auditor2")
    error_of(api_save(api, aid, {"SO-1.1": ("compliant", "")}, etag_of(api, aid)), 403)
    sign_in(client, "auditor2")
    assert page_save(client, aid, {"SO-1.1": ("compliant", "")}).status_code == 403
    assert stored(app, aid)[1] == {}


def copies_of(client, api, aid: int) -> tuple[str, int]:
    """The auditor's copy on both doors: the API's ETag and the revision its page carries."""
    sign_in(client, "auditor")
    _, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    return etag_of(api, aid), revision_in(html)


def test_a_stale_copy_is_412_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    api = as_user("auditor")
    old_etag, old_revision = copies_of(client, api, aid)
    answer_all(app, aid, world["admin"], "partial")  # someone else saves meanwhile
    saved = stored(app, aid)[1]
    body = error_of(api_save(api, aid, {"SO-1.1": ("compliant", "")}, old_etag), 412)
    page = page_save(client, aid, {"SO-1.1": ("compliant", "")}, revision=old_revision)
    assert page.status_code == 412
    for text in (body["message"], page.get_data(as_text=True)):
        assert "changed by someone else" in text and "nothing was saved" in text
    assert stored(app, aid)[1] == saved


def test_a_stale_copy_of_a_closed_assessment_is_409_on_both_doors(client, app, world, as_user):
    """The service decides in one order: the state (409) before the copy's age (412)."""
    aid = world["assessment_id"]
    api = as_user("auditor")
    old_etag, old_revision = copies_of(client, api, aid)
    approved(app, world)
    error_of(api_save(api, aid, {"SO-1.1": ("compliant", "")}, old_etag), 409)
    assert page_save(client, aid, {"SO-1.1": ("compliant", "")}, old_revision).status_code == 409


def test_review_refusals_match(client, app, world, as_user):
    aid = world["assessment_id"]
    reviewer = as_user("reviewer")
    # not submitted yet: 409 on both doors
    error_of(reviewer.post(f"/api/v1/assessments/{aid}/approve", etag=etag_of(reviewer, aid)), 409)
    sign_in(client, "reviewer")
    token, _ = page_token(client, f"/assessments/{aid}/review")
    form = {"csrf_token": token, "revision": stored(app, aid)[0].revision, "comment": ""}
    assert client.post(f"/assessments/{aid}/approve", data=form).status_code == 409
    # submitted: someone other than its reviewer is 403 on both doors
    submitted(app, world)
    etag = etag_of(reviewer, aid)
    error_of(as_user("auditor2").post(f"/api/v1/assessments/{aid}/approve", etag=etag), 403)
    sign_in(client, "auditor2")
    token, _ = page_token(client, f"/assessments/{aid}/review")
    form = {"csrf_token": token, "revision": stored(app, aid)[0].revision, "comment": ""}
    assert client.post(f"/assessments/{aid}/approve", data=form).status_code == 403
    # returning without a comment is 422 naming the comment, on both doors
    body = error_of(
        reviewer.post(f"/api/v1/assessments/{aid}/return", json={"comment": " "}, etag=etag), 422
    )
    assert list(body["errors"]) == ["comment"]
    sign_in(client, "reviewer")
    token, html = page_token(client, f"/assessments/{aid}/review")
    page = client.post(
        f"/assessments/{aid}/return",
        data={"csrf_token": token, "revision": revision_in(html), "comment": " "},
    )
    assert page.status_code == 422
    assert field_errors(page.get_data(as_text=True)) == ["Say what the auditors should change."]
    # too long a comment is the service's limit on both doors, to approve as to return
    long = "x" * 10_001
    body = error_of(
        reviewer.post(f"/api/v1/assessments/{aid}/approve", json={"comment": long}, etag=etag),
        422,
    )
    assert body["errors"] == {"comment": ["the comment is over 10,000 characters"]}
    page = client.post(
        f"/assessments/{aid}/approve",
        data={"csrf_token": token, "revision": revision_in(html), "comment": long},
    )
    assert page.status_code == 422
    assert "The comment is over 10,000 characters." in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Assessment, aid).state == "submitted"


# ------------------------------------------------------------------------ every problem at once


def test_every_wrong_answer_is_named_at_once_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    refs = all_items(app)[:3]
    wrong = {
        refs[0]: ("great", ""),  # no such answer
        refs[1]: ("partial", "x" * 10_001),  # too long a comment
        refs[2]: ("compliant", "fine"),  # this one is right, and is not saved either
    }
    api = as_user("auditor")
    body = error_of(api_save(api, aid, wrong, etag_of(api, aid)), 422)
    assert sorted(body["errors"]) == sorted(refs[:2])
    assert "'great' is not an allowed answer" in body["errors"][refs[0]][0]
    assert "comment is over 10,000 characters" in body["errors"][refs[1]][0]
    sign_in(client, "auditor")
    page = page_save(client, aid, wrong)
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "&#39;great&#39; is not an allowed answer" in html
    assert "comment is over 10,000 characters" in html
    assert stored(app, aid)[1] == {} and stored(app, aid)[0].revision == 1


def test_submission_problems_are_listed_the_same_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, aid)
        answers = [AnswerInput(r, "non_compliant") for r in all_items(app)[:2]]
        svc.save_answers(session, session.get(User, world["auditor"]), assessment, answers, None)
        session.commit()
    api = as_user("auditor")
    body = error_of(api.post(f"/api/v1/assessments/{aid}/submit", etag=etag_of(api, aid)), 409)
    kinds = {(p["field"], p["kind"]) for p in body["problems"]}
    assert len(kinds) == len(all_items(app))  # two need comments, the rest are unanswered
    sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}")
    page = client.post(
        f"/assessments/{aid}/submit", data={"csrf_token": token, "revision": revision_in(html)}
    )
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    for problem in body["problems"]:
        assert f"#item-{problem['field']}" in html and problem["ref"] == problem["field"]
    assert stored(app, aid)[0].state == "in_progress"


def test_a_new_subcontractor_gets_every_problem_at_once_on_both_doors(client, app, world, as_user):
    fields = {"name": " ", "country": "Japan", "tier": 7, "contact_email": "nobody"}
    api = as_user("auditor")
    sign_in(client, "auditor")
    token, _ = page_token(client, "/subcontractors/new")
    before = (count(app, Subcontractor), count(app, AuditEvent))
    body = error_of(api.post("/api/v1/subcontractors", json=fields), 422)
    assert sorted(body["errors"]) == ["contact_email", "country", "name", "tier"]
    page = client.post(
        "/subcontractors/new",
        data={**fields, "tier": "7", "csrf_token": token, "contract_start": "2024-13-01"},
    )
    assert page.status_code == 422
    shown = field_errors(page.get_data(as_text=True))
    assert "The legal name is required." in shown
    assert "Tier must be 1, 2 or 3." in shown
    assert any(m.startswith("Country must be a two-letter") for m in shown)
    assert any("is not a valid e-mail address" in m for m in shown)
    # a date the form could not read is named too, beside the service's problems
    assert "Not a valid date value." in shown
    assert (count(app, Subcontractor), count(app, AuditEvent)) == before


def test_a_taken_name_alone_is_409_on_both_doors(client, app, world, as_user):
    with app.app_context():
        name = db.session.get(Subcontractor, world["subcontractor_id"]).name
    fields = {"name": name, "country": "JP", "tier": 1}
    body = error_of(as_user("auditor").post("/api/v1/subcontractors", json=fields), 409)
    assert body["problems"][0]["field"] == "name" and body["problems"][0]["kind"] == "taken"
    sign_in(client, "auditor")
    token, _ = page_token(client, "/subcontractors/new")
    page = client.post("/subcontractors/new", data={**fields, "tier": "1", "csrf_token": token})
    assert page.status_code == 409
    assert "already exists" in " ".join(field_errors(page.get_data(as_text=True)))
    assert count(app, Subcontractor) == 1


def test_a_new_assessment_needs_the_same_on_both_doors(client, app, world, as_user):
    with app.app_context():
        version_id = factories.version(db.session, SO).id
    request = {
        "subcontractor_id": world["subcontractor_id"],
        "checklist_version_id": version_id,
        "auditor_ids": [world["auditor"]],
        "reviewer_id": world["auditor"],  # one of its auditors
        "period_start": "2026-04-01",
        "period_end": "2026-03-01",  # ends before it starts
        "title": "t" * 201,
    }
    body = error_of(as_user("auditor").post("/api/v1/assessments", json=request), 422)
    expected = ["due_date", "period_end", "reviewer_id", "title"]
    assert sorted(body["errors"]) == expected
    sign_in(client, "auditor")
    token, _ = page_token(client, "/assessments/new")
    page = client.post("/assessments/new", data={**request, "csrf_token": token})
    assert page.status_code == 422
    shown = field_errors(page.get_data(as_text=True))
    assert len(shown) == len(expected)
    assert "Give a due date." in shown and "The period ends before it starts." in shown
    assert count(app, Assessment) == 1


def test_webhook_registration_names_every_problem_on_both_doors(client, app, world, as_user):
    request = {"url": "ftp://example", "secret": "short", "events": ["nothing.happened"]}
    body = error_of(as_user("admin", "admin").post("/api/v1/webhooks", json=request), 422)
    assert sorted(body["errors"]) == ["events", "secret", "url"]
    sign_in(client, "admin")
    token, _ = page_token(client, "/admin/webhooks/")
    page = client.post(
        "/admin/webhooks/", data={"csrf_token": token, "url": "ftp://example", "secret": "short"}
    )
    assert page.status_code == 422
    shown = field_errors(page.get_data(as_text=True))
    assert "The URL must be an absolute http:// or https:// address." in shown
    assert "The secret must be 16 to 200 characters." in shown
    assert "Choose at least one event." in shown
    assert count(app, Webhook) == 0


def test_evidence_over_the_limit_is_422_on_both_doors(client, app, world, as_user):
    app.config["MAX_EVIDENCE_BYTES"] = 10
    aid = world["assessment_id"]
    response = as_user("auditor").post(
        f"/api/v1/assessments/{aid}/evidence",
        data={"file": (io.BytesIO(b"x" * 11), "big.txt")},
        content_type="multipart/form-data",
    )
    body = error_of(response, 422)
    assert body["errors"] == {"file": ["the file is 11 bytes; the limit is 10 bytes"]}
    sign_in(client, "auditor")
    token, _ = page_token(client, f"/assessments/{aid}")
    page = client.post(
        f"/assessments/{aid}/evidence",
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 11), "big.txt")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    assert "the limit is 10 bytes" in page.get_data(as_text=True)
    assert count(app, Evidence) == 0


def test_an_unknown_report_language_is_422_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    body = error_of(
        as_user("viewer", "read").get(f"/api/v1/assessments/{aid}/report.pdf?lang=fr"), 422
    )
    assert list(body["errors"]) == ["lang"]
    sign_in(client, "viewer")
    page = client.get(f"/assessments/{aid}/report.pdf?lang=fr")
    assert page.status_code == 422 and page.mimetype == "text/html"


def test_no_poam_without_findings_is_404_on_both_doors(client, app, world, as_user):
    aid = world["assessment_id"]
    body = error_of(as_user("viewer", "read").get(f"/api/v1/assessments/{aid}/poam"), 404)
    assert "no findings" in body["message"]
    sign_in(client, "viewer")
    page = client.get(f"/assessments/{aid}/poam.json")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "no findings" in page.get_data(as_text=True)
