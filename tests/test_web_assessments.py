"""The assessment pages through real HTTP: roles, lost updates, re-rendering, evidence."""

import re

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import Assessment, Evidence, Finding
from audit.services import assessments as svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import DEMO_PASSWORD, csrf_token

PASSWORD = factories.PASSWORD
assert PASSWORD == DEMO_PASSWORD


@pytest.fixture
def world(app, loaded_checklists):
    """People, and an open assessment of subcontractor-oversight assigned to 'auditor'."""
    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        return {
            "assessment_id": assessment.id,
            **{role: getattr(people, role).id for role in people.__dataclass_fields__},
        }


def sign_in(client, who):
    if client.get("/auth/login").status_code == 302:  # someone is signed in
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": f"{who}@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def page_token(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1), html


def revision_in(html):
    return int(re.search(r'name="revision"[^>]*value="(\d+)"', html).group(1))


def stored(app, assessment_id):
    with app.app_context():
        assessment = db.session.get(Assessment, assessment_id)
        return assessment, {
            ref: (a.status, a.comment)
            for ref, a in svc.answers_by_ref(db.session, assessment).items()
        }


def save_section(client, assessment_id, section, answers, revision=None, token=None):
    url = f"/assessments/{assessment_id}?section={section}"
    page_tok, html = page_token(client, url)
    data = {"csrf_token": token or page_tok, "revision": revision or revision_in(html)}
    for ref, (status, comment) in answers.items():
        data[f"answer-{ref}"] = status
        data[f"comment-{ref}"] = comment
    return client.post(f"/assessments/{assessment_id}/sections/{section}", data=data)


def test_assessment_page_shows_items_guidance_references_and_score(client, world):
    sign_in(client, "auditor")
    html = client.get(f"/assessments/{world['assessment_id']}").get_data(as_text=True)
    assert 'id="item-SO-1.1"' in html
    assert '<details class="guidance">' in html
    assert "appi:Art. 25" in html
    assert 'name="answer-SO-1.1"' in html and 'value="non_compliant"' in html
    assert 'id="score-panel"' in html and "provisional" in html
    ja = client.get(f"/assessments/{world['assessment_id']}?lang=ja").get_data(as_text=True)
    assert "委託先" in ja


def test_saving_a_section_keeps_the_other_sections(client, app, world):
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    assert save_section(client, aid, "SO-1", {"SO-1.1": ("compliant", "")}).status_code == 302
    response = save_section(client, aid, "SO-2", {"SO-2.1": ("partial", "Only for new vendors")})
    assert response.status_code == 302
    assert "section=SO-2" in response.headers["Location"]
    _, answers = stored(app, aid)
    assert answers["SO-1.1"] == ("compliant", "")
    assert answers["SO-2.1"] == ("partial", "Only for new vendors")


def test_stale_revision_is_refused_and_keeps_what_was_typed(client, app, world):
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    _, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    old_revision = revision_in(html)
    assert save_section(client, aid, "SO-1", {"SO-1.1": ("compliant", "")}).status_code == 302
    response = save_section(
        client,
        aid,
        "SO-1",
        {"SO-1.1": ("non_compliant", "My typed reason")},
        revision=old_revision,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 412  # stale: the service's status, on the page as on the API
    assert "changed by someone else" in body
    assert "My typed reason" in body
    assert re.search(r'name="answer-SO-1.1" value="non_compliant"\s+checked', body)
    _, answers = stored(app, aid)
    assert answers["SO-1.1"] == ("compliant", "")
    # having seen the refusal, the user may save again on purpose: the form now carries the
    # current revision
    current = stored(app, aid)[0].revision
    assert f'name="revision" value="{current}"' in body
    again = save_section(
        client, aid, "SO-1", {"SO-1.1": ("non_compliant", "My typed reason")}, revision=current
    )
    assert again.status_code == 302
    assert stored(app, aid)[1]["SO-1.1"] == ("non_compliant", "My typed reason")


def test_bad_answer_value_re_renders_with_a_message_and_saves_nothing(client, app, world):
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    response = save_section(
        client, aid, "SO-1", {"SO-1.2": ("compliant", "fine"), "SO-1.1": ("not_applicable", "x")}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "nothing was saved" in body
    assert (
        "item SO-1.1: &#39;not_applicable&#39; is not an allowed answer "
        "(allowed: compliant, partial, non_compliant)"
    ) in body
    assert stored(app, aid)[1] == {}
    assert stored(app, aid)[0].revision == 1


def test_roles_on_the_assessment_pages(client, app, world):
    aid = world["assessment_id"]
    for who in ("auditor2", "reviewer", "viewer"):
        sign_in(client, who)
        assert client.get(f"/assessments/{aid}").status_code == 200  # all may read
        assert save_section(client, aid, "SO-1", {"SO-1.1": ("compliant", "")}).status_code == 403
        token, _ = page_token(client, f"/assessments/{aid}")
        assert (
            client.post(
                f"/assessments/{aid}/submit", data={"csrf_token": token, "revision": 1}
            ).status_code
            == 403
        )
    sign_in(client, "viewer")
    assert client.get("/assessments/new").status_code == 403
    assert stored(app, aid)[1] == {}


def test_anonymous_is_sent_to_sign_in(client, world):
    for url in (f"/assessments/{world['assessment_id']}", "/assessments/", "/findings/"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_submit_lists_what_is_missing_with_links(client, world):
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    save_section(client, aid, "SO-1", {"SO-1.1": ("partial", "")})
    token, html = page_token(client, f"/assessments/{aid}")
    response = client.post(
        f"/assessments/{aid}/submit", data={"csrf_token": token, "revision": revision_in(html)}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f'href="/assessments/{aid}?section=SO-1#item-SO-1.1"' in body
    assert "comment" in body.lower()
    assert '?section=SO-2#item-SO-2.1"' in body


def answer_everything(app, world, overrides=None):
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        auditor = session.get(factories.User, world["auditor"])
        checklist = svc.definition(session, assessment)
        overrides = overrides or {}
        svc.save_answers(
            session,
            auditor,
            assessment,
            [
                AnswerInput(i.ref, *overrides.get(i.ref, ("compliant", "")))
                for i in checklist.items()
            ],
            assessment.revision,
        )
        session.commit()


def test_submit_review_approve_then_frozen(client, app, world):
    aid = world["assessment_id"]
    answer_everything(app, world, {"SO-3.1": ("non_compliant", "No written contract")})
    sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}")
    response = client.post(
        f"/assessments/{aid}/submit", data={"csrf_token": token, "revision": revision_in(html)}
    )
    assert response.status_code == 302
    assert stored(app, aid)[0].state == "submitted"
    # the auditor cannot review their own work
    token, html = page_token(client, f"/assessments/{aid}/review")
    assert 'id="approve"' not in html
    current = stored(app, aid)[0].revision
    assert (
        client.post(
            f"/assessments/{aid}/approve", data={"csrf_token": token, "revision": current}
        ).status_code
        == 403
    )
    sign_in(client, "reviewer")
    token, html = page_token(client, f"/assessments/{aid}/review")
    assert 'id="approve"' in html and "No written contract" in html
    assert "Critical item SO-3.1" in html  # the cap sentence
    # returning needs a comment: re-rendered with the message, nothing changed
    response = client.post(
        f"/assessments/{aid}/return",
        data={"csrf_token": token, "revision": revision_in(html), "comment": ""},
    )
    assert response.status_code == 422
    assert "Say what the auditors should change." in response.get_data(as_text=True)
    assert stored(app, aid)[0].state == "submitted"
    response = client.post(
        f"/assessments/{aid}/approve",
        data={"csrf_token": token, "revision": revision_in(html), "comment": "Agreed"},
    )
    assert response.status_code == 302
    assessment, before = stored(app, aid)
    assert assessment.state == "approved" and assessment.score_snapshot["rating"] == "D"
    sign_in(client, "auditor")
    page = client.get(f"/assessments/{aid}").get_data(as_text=True)
    assert "frozen" in page and "Save section" not in page
    response = save_section(client, aid, "SO-1", {"SO-1.1": ("partial", "late change")})
    assert response.status_code == 409  # approved: not in a state to change, as the API says
    assert stored(app, aid)[1] == before


def test_return_sends_it_back_to_the_auditors(client, app, world):
    aid = world["assessment_id"]
    answer_everything(app, world)
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, aid)
        svc.submit(session, session.get(factories.User, world["auditor"]), assessment, None)
        session.commit()
    sign_in(client, "reviewer")
    token, html = page_token(client, f"/assessments/{aid}/review")
    response = client.post(
        f"/assessments/{aid}/return",
        data={"csrf_token": token, "revision": revision_in(html), "comment": "Attach the DPA"},
    )
    assert response.status_code == 302
    sign_in(client, "auditor")
    page = client.get(f"/assessments/{aid}").get_data(as_text=True)
    assert "Attach the DPA" in page and "Save section" in page


def test_evidence_upload_and_download(client, app, world):
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    token, _ = page_token(client, f"/assessments/{aid}")
    import io

    data = b"%PDF-1.4 fake contract\n"
    response = client.post(
        f"/assessments/{aid}/evidence",
        data={
            "csrf_token": token,
            "item_ref": "SO-3.1",
            "section": "SO-3",
            "file": (io.BytesIO(data), "../../etc/contract <b>v2.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        evidence = db.session.exec(select(Evidence)).one()
    assert evidence.filename == "contract <b>v2.pdf"
    import hashlib

    assert evidence.sha256 == hashlib.sha256(data).hexdigest() and evidence.size == len(data)
    page = client.get(f"/assessments/{aid}?section=SO-3").get_data(as_text=True)
    assert "contract &lt;b&gt;v2.pdf" in page and "<b>v2" not in page
    download = client.get(f"/evidence/{evidence.id}/download")
    assert download.status_code == 200 and download.data == data
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "contract" in download.headers["Content-Disposition"]
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_html_evidence_is_served_as_an_opaque_attachment(client, app, world):
    import io

    sign_in(client, "auditor")
    aid = world["assessment_id"]
    token, _ = page_token(client, f"/assessments/{aid}")
    client.post(
        f"/assessments/{aid}/evidence",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"<script>x</script>"), "x.html", "text/html"),
        },
        content_type="multipart/form-data",
    )
    with app.app_context():
        evidence = db.session.exec(select(Evidence)).one()
    download = client.get(f"/evidence/{evidence.id}/download")
    assert download.headers["Content-Type"] == "application/octet-stream"


def test_evidence_over_the_limit_gets_a_clear_error_page(app, client, world):
    import io

    app.config["MAX_EVIDENCE_BYTES"] = 1024
    app.config["MAX_CONTENT_LENGTH"] = 4096
    sign_in(client, "auditor")
    aid = world["assessment_id"]
    token, _ = page_token(client, f"/assessments/{aid}")
    big = client.post(
        f"/assessments/{aid}/evidence",
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 10_000), "big.bin")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 413
    assert "File too large" in big.get_data(as_text=True)
    middling = client.post(
        f"/assessments/{aid}/evidence",
        data={"csrf_token": token, "file": (io.BytesIO(b"x" * 2000), "mid.bin")},
        content_type="multipart/form-data",
    )
    assert middling.status_code == 422
    assert "the limit is 1,024 bytes" in middling.get_data(as_text=True)
    with app.app_context():
        assert db.session.exec(select(Evidence)).all() == []


def test_evidence_name_with_nul_is_refused(client, app, world):
    import io

    sign_in(client, "auditor")
    aid = world["assessment_id"]
    token, _ = page_token(client, f"/assessments/{aid}")
    response = client.post(
        f"/assessments/{aid}/evidence",
        data={"csrf_token": token, "file": (io.BytesIO(b"data"), "a\x00b.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.exec(select(Evidence)).all() == []


def test_findings_are_editable_after_approval(client, app, world):
    aid = world["assessment_id"]
    answer_everything(app, world, {"SO-3.1": ("non_compliant", "No written contract")})
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, aid)
        svc.submit(session, session.get(factories.User, world["auditor"]), assessment, None)
        svc.approve(session, session.get(factories.User, world["reviewer"]), assessment, None)
        session.commit()
        finding = session.exec(select(Finding)).one()
    sign_in(client, "auditor")
    token, html = page_token(client, f"/findings/{finding.id}/edit")
    bad = client.post(
        f"/findings/{finding.id}/edit",
        data={
            "csrf_token": token,
            "remediation_plan": "Sign",
            "owner": "L",
            "due_date": "not a date",
            "status": "open",
        },
    )
    assert bad.status_code == 422 and "Not a valid date value." in bad.get_data(as_text=True)
    ok = client.post(
        f"/findings/{finding.id}/edit",
        data={
            "csrf_token": token,
            "remediation_plan": "Sign the DPA",
            "owner": "Legal",
            "due_date": "2027-03-31",
            "status": "in_remediation",
        },
    )
    assert ok.status_code == 302
    with app.app_context():
        saved = db.session.get(Finding, finding.id)
    assert (saved.remediation_plan, saved.owner, saved.status) == (
        "Sign the DPA",
        "Legal",
        "in_remediation",
    )
    listing = client.get("/findings/").get_data(as_text=True)
    assert "Sign the DPA" in listing and "critical" in listing
    sign_in(client, "viewer")
    assert client.get(f"/findings/{finding.id}/edit").status_code == 403


def test_new_assessment_form(client, app, world):
    sign_in(client, "auditor")
    token, html = page_token(client, "/assessments/new")
    with app.app_context():
        version = factories.version(db.session, "safety-management")
        company = db.session.exec(select(factories.Subcontractor)).first()
    base = {
        "csrf_token": token,
        "subcontractor_id": company.id,
        "checklist_version_id": version.id,
        "auditor_ids": [world["auditor"]],
        "reviewer_id": world["reviewer"],
        "due_date": "2027-01-31",
    }
    bad = client.post("/assessments/new", data={**base, "due_date": ""})
    assert bad.status_code == 422 and "Give a due date." in bad.get_data(as_text=True)
    clash = client.post(
        "/assessments/new",
        data={**base, "reviewer_id": world["admin"], "auditor_ids": [world["admin"]]},
    )
    assert clash.status_code == 422
    assert "The reviewer cannot be one of the auditors." in clash.get_data(as_text=True)
    ok = client.post("/assessments/new", data=base)
    assert ok.status_code == 302
    with app.app_context():
        count = len(db.session.exec(select(Assessment)).all())
    assert count == 2


def test_list_pages_issue_a_bounded_number_of_queries(client, app, world, count_queries):
    sign_in(client, "auditor")

    def queries(url):
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    urls = ("/assessments/", "/findings/", "/")
    few = {url: queries(url) for url in urls}
    with app.app_context():
        session = db.session
        people = factories.Team(
            *(
                session.get(factories.User, world[r])
                for r in ("admin", "auditor", "auditor2", "reviewer", "viewer")
            )
        )
        for n in range(12):
            made = factories.assessment(
                session, people, company=factories.subcontractor(session, people.admin, f"Co {n}")
            )
            svc.save_answers(
                session, people.auditor, made, [AnswerInput("SO-1.1", "non_compliant", "gap")], None
            )
            session.commit()
    many = {url: queries(url) for url in urls}
    assert many == few
