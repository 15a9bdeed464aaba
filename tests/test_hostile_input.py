"""Hostile input on the pages: escaped everywhere, refused cleanly, nothing saved lost."""

import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from audit.extensions import db
from audit.models import Assessment, Subcontractor
from audit.services import assessments as svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import examples
from tests.test_web_assessments import page_token, revision_in, sign_in, world  # noqa: F401

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def saved_answers(app, assessment_id):
    with app.app_context():
        return {
            ref: (a.status, a.comment)
            for ref, a in svc.answers_by_ref(
                db.session, db.session.get(Assessment, assessment_id)
            ).items()
        }


@pytest.fixture
def answered(app, world):  # noqa: F811
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        auditor = session.get(factories.User, world["auditor"])
        svc.save_answers(
            session,
            auditor,
            assessment,
            [AnswerInput("SO-1.1", "partial", "kept"), AnswerInput("SO-2.1", "compliant", "")],
            None,
        )
        session.commit()
    return world


def test_html_in_every_text_field_is_escaped_on_the_pages(client, app, answered):
    aid = answered["assessment_id"]
    sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    client.post(
        f"/assessments/{aid}/sections/SO-1",
        data={
            "csrf_token": token,
            "revision": revision_in(html),
            "answer-SO-1.1": "partial",
            "comment-SO-1.1": SCRIPT,
        },
    )
    token = page_token(client, "/subcontractors/new")[0]
    client.post(
        "/subcontractors/new",
        data={
            "csrf_token": token,
            "name": SCRIPT,
            "country": "JP",
            "tier": "1",
            "services": SCRIPT,
            "data_categories": SCRIPT,
            "notes": SCRIPT,
        },
    )
    with app.app_context():
        company = db.session.exec(select(Subcontractor).where(Subcontractor.name == SCRIPT)).one()
    pages = [
        f"/assessments/{aid}?section=SO-1",
        f"/assessments/{aid}/review",
        "/subcontractors/",
        f"/subcontractors/{company.id}",
        "/",
        "/findings/",
    ]
    for url in pages:
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in body, url
        assert "<img src=x" not in body, url
    assert "&lt;script&gt;alert" in client.get(f"/assessments/{aid}/review").get_data(as_text=True)


def test_invalid_utf8_in_a_form_is_refused_without_a_crash(client, app, answered):
    aid = answered["assessment_id"]
    sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    body = (
        f"csrf_token={token}&revision={revision_in(html)}&answer-SO-1.1=partial&comment-SO-1.1="
    ).encode() + b"\xff\xfe\xfa"
    response = client.post(
        f"/assessments/{aid}/sections/SO-1",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500
    after = saved_answers(app, aid)
    assert after["SO-2.1"] == ("compliant", "")
    assert after["SO-1.1"][0] == "partial"


def test_oversized_bodies_get_413(client, app, answered):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    aid = answered["assessment_id"]
    sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    response = client.post(
        f"/assessments/{aid}/sections/SO-1",
        data={
            "csrf_token": token,
            "revision": revision_in(html),
            "answer-SO-1.1": "partial",
            "comment-SO-1.1": "x" * 20_000,
        },
    )
    assert response.status_code == 413
    assert saved_answers(app, aid)["SO-1.1"] == ("partial", "kept")


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\boot.ini", "a\x00.pdf", "", ".."])
def test_hostile_evidence_names(client, app, answered, name):
    aid = answered["assessment_id"]
    sign_in(client, "auditor")
    token, _ = page_token(client, f"/assessments/{aid}")
    response = client.post(
        f"/assessments/{aid}/evidence",
        data={"csrf_token": token, "file": (io.BytesIO(b"data"), name)},
        content_type="multipart/form-data",
    )
    with app.app_context():
        from audit.models import Evidence

        stored = db.session.exec(select(Evidence)).all()
    if response.status_code == 302:
        assert len(stored) == 1
        assert "/" not in stored[0].filename and "\\" not in stored[0].filename
        assert stored[0].filename not in ("", ".", "..") and "\x00" not in stored[0].filename
    else:
        assert response.status_code == 422 and stored == []


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    answer=st.one_of(
        st.sampled_from(
            ["compliant", "partial", "non_compliant", "not_applicable", "", "maybe", "<b>", "0"]
        ),
        TEXT,
    ),
    comment=TEXT,
    revision=st.one_of(st.just("current"), st.just("current"), st.integers(-5, 50).map(str), TEXT),
    section=st.one_of(st.sampled_from(["SO-1", "SO-2", "XX", "../", "SO-1%00"]), TEXT),
    extra=st.dictionaries(TEXT, TEXT, max_size=3),
)
def test_fuzzed_section_saves_never_crash_or_lose_answers(
    client, app, answered, answer, comment, revision, section, extra
):
    aid = answered["assessment_id"]
    with client.session_transaction() as s:
        signed_in = bool(s.get("_user_id"))
    if not signed_in:
        sign_in(client, "auditor")
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    if revision == "current":
        revision = str(revision_in(html))
    before = saved_answers(app, aid)
    data = {
        **extra,
        "csrf_token": token,
        "revision": revision,
        "answer-SO-1.1": answer,
        "comment-SO-1.1": comment,
    }
    from urllib.parse import quote

    response = client.post(f"/assessments/{aid}/sections/{quote(section, safe='')}", data=data)
    assert response.status_code < 500
    after = saved_answers(app, aid)
    assert after["SO-2.1"] == before["SO-2.1"]  # never touched by a save of SO-1
    if response.status_code != 302:
        assert after == before  # a refused save changes nothing
    else:
        assert re.match(r"^\d+$", revision) and section in ("SO-1", "SO-2")
        if section == "SO-2":
            assert after == before  # SO-1.1 is not in SO-2: the save touched nothing
        elif answer == "":
            assert "SO-1.1" not in after  # "not answered" clears it
        else:
            assert after["SO-1.1"] == (answer, comment.strip())


def test_deeply_nested_json_to_the_score_preview_is_refused(client, app, answered):
    aid = answered["assessment_id"]
    sign_in(client, "auditor")
    token, _ = page_token(client, f"/assessments/{aid}")
    response = client.post(
        f"/assessments/{aid}/score-preview",
        data=b"[" * 50_000,
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/assessments/99999999999999999999",
        "/subcontractors/9223372036854775808",
        "/evidence/4294967296/download",
    ],
)
def test_ids_too_large_for_the_database_are_not_found(client, answered, url):
    sign_in(client, "viewer")
    assert client.get(url).status_code == 404


def test_nul_characters_in_form_text_are_refused(client, app, answered):
    sign_in(client, "auditor")
    token = page_token(client, "/subcontractors/new")[0]
    response = client.post(
        "/subcontractors/new",
        data={"csrf_token": token, "name": "Nul\x00 Co", "country": "JP", "tier": "1"},
    )
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
    aid = answered["assessment_id"]
    token, html = page_token(client, f"/assessments/{aid}?section=SO-1")
    response = client.post(
        f"/assessments/{aid}/sections/SO-1",
        data={
            "csrf_token": token,
            "revision": revision_in(html),
            "answer-SO-1.1": "partial",
            "comment-SO-1.1": "a\x00b",
        },
    )
    assert response.status_code == 400
    assert saved_answers(app, aid)["SO-1.1"] == ("partial", "kept")
    with app.app_context():
        assert not db.session.exec(
            select(Subcontractor).where(Subcontractor.name.like("Nul%"))
        ).all()
