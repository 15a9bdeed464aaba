"""If-Match on every conditional write: missing (428), malformed, empty or stale (412), and the
service's state decision (409) before any staleness, on assessments, findings and subcontractors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import Assessment, Finding, Subcontractor, User
from audit.services import assessments as svc
from tests.api.conftest import all_items, error_of

#: If-Match values no server could match, each of which answered 500 or 428 before
MALFORMED = {
    "empty tag": '""',
    "list with an empty tag": '"nothing-of-ours", ""',
    "weak empty tag": 'W/""',
    "unquoted": "a1-r1",
    "unterminated": '"a1-r1',
    "only a comma": ",",
    "empty header": "",
    "star in a list": '*, "x"',
}


@dataclass(frozen=True)
class Op:
    """One conditional write: who makes it, how, and the state it succeeds in."""

    name: str
    who: str
    method: str
    path: str  # with {aid} and {ref}
    body: dict[str, Any] | None
    state: str  # "draft", "ready" (all answered) or "submitted"


OPS = [
    Op("patch assessment", "auditor", "PATCH", "/assessments/{aid}", {"title": "T2"}, "draft"),
    Op("delete assessment", "auditor", "DELETE", "/assessments/{aid}", None, "draft"),
    Op(
        "patch answers",
        "auditor",
        "PATCH",
        "/assessments/{aid}/answers",
        {"answers": [{"ref": "{ref}", "status": "compliant"}]},
        "draft",
    ),
    Op(
        "put answer",
        "auditor",
        "PUT",
        "/assessments/{aid}/answers/{ref}",
        {"status": "compliant"},
        "draft",
    ),
    Op("submit", "auditor", "POST", "/assessments/{aid}/submit", None, "ready"),
    Op("approve", "reviewer", "POST", "/assessments/{aid}/approve", {}, "submitted"),
    Op("return", "reviewer", "POST", "/assessments/{aid}/return", {"comment": "Fix."}, "submitted"),
]


def _bring_to(app, world, state: str) -> None:
    """Put the world's assessment in ``state`` through the services (no API involved)."""
    if state == "draft":
        return
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        auditor = session.get(User, world["auditor"])
        reviewer = session.get(User, world["reviewer"])
        inputs = [svc.AnswerInput(ref, "compliant", "checked") for ref in all_items(app)]
        svc.save_answers(session, auditor, assessment, inputs, None)
        if state in ("submitted", "approved"):
            svc.submit(session, auditor, assessment, None)
        if state == "approved":
            svc.approve(session, reviewer, assessment, None)
        session.commit()


def _send(api, app, world, op: Op, if_match: str | None):
    ref = all_items(app)[0]
    path = "/api/v1" + op.path.format(aid=world["assessment_id"], ref=ref)
    body = op.body
    if body is not None and "answers" in body:
        body = {"answers": [{"ref": ref, "status": "compliant"}]}
    headers = {} if if_match is None else {"If-Match": if_match}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return api.request(op.method, path, **kwargs)


def _etag(api, world) -> str:
    return api.get(f"/api/v1/assessments/{world['assessment_id']}").headers["ETag"]


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("value", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_if_match_is_412_and_saves_nothing(app, as_user, world, op, value):
    _bring_to(app, world, op.state)
    api = as_user(op.who)
    before = _etag(api, world)
    body = error_of(_send(api, app, world, op, value), 412)
    assert "nothing was" in body["message"]
    assert _etag(api, world) == before
    # the same request with the current ETag passes: the 412 was the precondition's alone
    assert _send(api, app, world, op, before).status_code in (200, 204)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("value", [*MALFORMED.values(), '"a1-r1"'], ids=[*MALFORMED, "stale tag"])
def test_on_an_approved_assessment_the_state_conflict_wins(app, as_user, world, op, value):
    _bring_to(app, world, "approved")
    api = as_user(op.who)
    before = _etag(api, world)
    error_of(_send(api, app, world, op, value), 409)
    assert _etag(api, world) == before


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_without_if_match_it_is_428(app, as_user, world, op):
    _bring_to(app, world, op.state)
    error_of(_send(as_user(op.who), app, world, op, None), 428)


# ------------------------------------------------------------------------------ other resources


def _finding_id(app, world) -> int:
    """A finding of the world's assessment (a non-compliant answer makes one)."""
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        auditor = session.get(User, world["auditor"])
        ref = all_items(app)[0]
        svc.save_answers(
            session, auditor, assessment, [svc.AnswerInput(ref, "non_compliant", "no")], None
        )
        session.commit()
        finding = session.exec(
            select(Finding).where(Finding.assessment_id == world["assessment_id"])
        ).one()
        return finding.id


@pytest.fixture
def other_resources(app, world):
    """(name, url, PATCH body) of every other resource whose writes are conditional."""
    return [
        ("finding", f"/api/v1/findings/{_finding_id(app, world)}", {"owner": "Sato"}),
        ("subcontractor", f"/api/v1/subcontractors/{world['subcontractor_id']}", {"notes": "n"}),
    ]


def test_other_resources_have_etags_and_refuse_bogus_if_match(as_user, other_resources):
    api = as_user("admin")
    for name, url, body in other_resources:
        first = api.get(url)
        assert first.status_code == 200, name
        etag = first.headers["ETag"]
        assert first.get_json()["etag"] == etag.strip('"'), name
        cached = api.get(url, headers={"If-None-Match": etag})
        assert cached.status_code == 304 and cached.headers["ETag"] == etag, name
        error_of(api.patch(url, json=body), 428)
        for value in [*MALFORMED.values(), '"bogus"', '"a1-r1"']:
            error_of(api.patch(url, json=body, headers={"If-Match": value}), 412)
        assert api.get(url).headers["ETag"] == etag, f"{name} changed by a refused write"
        saved = api.patch(url, json=body, etag=etag)
        assert saved.status_code == 200, (name, saved.get_json())
        assert (
            saved.headers["ETag"] != etag and saved.headers["ETag"] == api.get(url).headers["ETag"]
        ), name
        # the old ETag is stale now
        body_of_refusal = error_of(api.patch(url, json=body, etag=etag), 412)
        assert "nothing was saved" in body_of_refusal["message"], name
        assert api.patch(url, json=body, etag="*").status_code == 200, name


def test_deleting_a_subcontractor_is_conditional(app, as_user, world):
    api = as_user("admin")
    created = api.post(
        "/api/v1/subcontractors", json={"name": "Kumo KK", "country": "JP", "tier": 2}
    )
    assert created.status_code == 201
    url = created.headers["Location"]
    etag = created.headers["ETag"]
    error_of(api.delete(url), 428)
    error_of(api.delete(url, etag='""'), 412)
    error_of(api.delete(url, etag='"s999-r1"'), 412)
    assert api.delete(url, etag=etag).status_code == 204
    error_of(api.get(url), 404)


# ------------------------------------------------------------------------------ the pages


def _page_fields(client, url: str) -> dict[str, str]:
    """Every input of the page's form as the browser would send it (hidden ones included)."""
    html = client.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    fields.update(re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', html))
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"', options) or re.search(
            r'<option[^>]*value="([^"]*)"[^>]*selected', options
        )
        fields[name] = chosen.group(1) if chosen else ""
    return fields


@pytest.mark.parametrize("kind", ["finding", "subcontractor"])
def test_a_page_built_from_a_stale_copy_saves_nothing_and_says_so(app, client, auth, world, kind):
    if kind == "finding":
        url = f"/findings/{_finding_id(app, world)}/edit"
        field, mine, theirs = "owner", "Mine", "Theirs"
    else:
        url = f"/subcontractors/{world['subcontractor_id']}/edit"
        field, mine, theirs = "notes", "Mine", "Theirs"
    assert auth.login("admin@example.com").status_code == 302
    first = _page_fields(client, url)
    second = _page_fields(client, url)
    assert first["revision"] == "1"
    assert client.post(url, data={**first, field: theirs}).status_code == 302
    refused = client.post(url, data={**second, field: mine})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 412
    assert "changed by someone else" in page and "nothing was saved" in page
    assert re.search(rf'>\s*{mine}<|value="{mine}"', page)  # what was typed is kept
    again = dict(re.findall(r'<input[^>]*name="(revision)"[^>]*value="([^"]*)"', page))
    assert again["revision"] == "2"  # the page now carries the saved revision
    with app.app_context():
        model = Finding if kind == "finding" else Subcontractor
        row_id = int(url.split("/")[2])
        assert getattr(db.session.get(model, row_id), field) == theirs
    # having seen the message, saving again deliberately replaces the other change
    assert client.post(url, data={**second, **again, field: mine}).status_code == 302
    with app.app_context():
        assert getattr(db.session.get(model, row_id), field) == mine
