"""Visibility (``KANSA_VISIBILITY``): who reads which assessments and subcontractors.

The world, as a table of who is assigned to what::

    Alpha KK            a1 (auditor, reviewer)   a2 (auditor2)
      └ Delta KK        (no assessment)
    Bravo GK            b1 (auditor2, approved by admin)      ← granted to 'viewer'
      └ Charlie KK      c1 (auditor2)

'viewer2' is a viewer granted nothing. Under ``organisation`` everyone reads everything; under
``assigned`` each reads only what the table gives them (admins everything), and every list,
search, count, export and report obeys it on the pages and through the API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import select

from audit import config as settings
from audit import policies
from audit.extensions import db
from audit.models import AuditEvent, Finding, User, ViewerGrant
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services import tokens as token_service
from audit.services import users, visibility, worklists
from audit.services.assessments import AnswerInput
from audit.services.subcontractors import schedule
from audit.vocabulary import Reach, Visibility
from tests import factories
from tests.api.conftest import ApiClient, error_of
from tests.conftest import csrf_token

SETTINGS = ("organisation", "assigned")
PAST = date(2020, 1, 1)  # a contract start that makes every audit overdue


@dataclass
class World:
    ids: dict[str, int]  # people by role name
    subs: dict[str, int]  # subcontractors by short name
    assessments: dict[str, int]
    evidence_b1: int
    finding_a1: int
    finding_c1: int


@pytest.fixture
def world(app, loaded_checklists) -> World:
    with app.app_context():
        session = db.session
        people = factories.team(session)
        viewer2 = users.create_user(
            session,
            "viewer2@example.com",
            factories.PASSWORD,
            "viewer",
            hash_method=factories.FAST_HASH,
        )

        def company(name: str, parent=None):
            parent_id = parent.id if parent else None
            return factories.subcontractor(
                session, people.admin, name, contract_start=PAST, parent_id=parent_id
            )

        alpha = company("Alpha KK")
        delta = company("Delta KK", alpha)
        bravo = company("Bravo GK")
        charlie = company("Charlie KK", bravo)
        a1 = factories.assessment(session, people, company=alpha, title="Alpha one")
        none = {"reviewer_id": None}
        a2 = factories.assessment(
            session,
            people,
            company=alpha,
            title="Alpha two",
            auditor_ids=[people.auditor2.id],
            **none,
        )
        b1 = factories.assessment(
            session,
            people,
            company=bravo,
            title="Bravo one",
            auditor_ids=[people.auditor2.id],
            reviewer_id=people.admin.id,
        )
        c1 = factories.assessment(
            session,
            people,
            company=charlie,
            title="Charlie one",
            auditor_ids=[people.auditor2.id],
            **none,
        )
        gap = [AnswerInput("SO-1.1", "non_compliant", "gap")]
        svc.save_answers(session, people.auditor, a1, gap, None)
        svc.save_answers(session, people.auditor2, c1, gap, None)
        checklist = svc.definition(session, b1)
        every = [AnswerInput(i.ref, "compliant") for i in checklist.items()]
        svc.save_answers(session, people.auditor2, b1, every, None)
        evidence = evidence_svc.add(
            session,
            people.auditor2,
            b1,
            filename="bravo-policy.txt",
            content_type="text/plain",
            data=b"policy",
            max_bytes=100,
        )
        svc.submit(session, people.auditor2, b1, None)
        svc.approve(session, people.admin, b1, None, "fine")
        visibility.grant(session, people.admin, bravo.id, people.viewer.id)
        session.commit()
        findings = {f.assessment_id: f.id for f in session.exec(select(Finding)).all()}
        return World(
            ids={r: getattr(people, r).id for r in people.__dataclass_fields__}
            | {"viewer2": viewer2.id},
            subs={"alpha": alpha.id, "delta": delta.id, "bravo": bravo.id, "charlie": charlie.id},
            assessments={"a1": a1.id, "a2": a2.id, "b1": b1.id, "c1": c1.id},
            evidence_b1=evidence.id,
            finding_a1=findings[a1.id],
            finding_c1=findings[c1.id],
        )


ALL_ASSESSMENTS = {"a1", "a2", "b1", "c1"}
ALL_SUBS = {"alpha", "delta", "bravo", "charlie"}
#: under ``assigned``: (assessments, subcontractors) each person reads
ASSIGNED = {
    "admin": (ALL_ASSESSMENTS, ALL_SUBS),
    "auditor": ({"a1"}, {"alpha"}),
    "reviewer": ({"a1"}, {"alpha"}),
    "auditor2": ({"a2", "b1", "c1"}, {"alpha", "bravo", "charlie"}),
    "viewer": ({"b1", "c1"}, {"bravo", "charlie"}),  # the grant on Bravo covers Charlie
    "viewer2": (set(), set()),
}


def expected(role: str, setting: str) -> tuple[set[str], set[str]]:
    if setting == "organisation":
        return ALL_ASSESSMENTS, ALL_SUBS
    return ASSIGNED[role]


@pytest.fixture
def api(app, client, world):
    """``api("auditor")``: an API client with a write token (admin scope for admins)."""

    def make(role: str) -> ApiClient:
        with app.app_context():
            user = db.session.get(User, world.ids[role])
            scope = "admin" if role == "admin" else "write"
            _, secret = token_service.create(db.session, user, name="t", scope=scope)
            db.session.commit()
        return ApiClient(client, secret)

    return make


def sign_in(app, role: str):
    client = app.test_client()
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": f"{role}@example.com", "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    return client


def names(world: World, kind: str, ids) -> set[str]:
    table = world.assessments if kind == "assessments" else world.subs
    back = {v: k for k, v in table.items()}
    return {back[i] for i in ids}


# ------------------------------------------------------------------------------ settings


def test_the_setting_is_read_and_checked():
    assert settings.from_environment("/tmp", {})["VISIBILITY"] == Visibility.ORGANISATION
    chosen = settings.from_environment("/tmp", {"KANSA_VISIBILITY": " Assigned "})
    assert chosen["VISIBILITY"] == "assigned"
    settings.check({"TESTING": True, **chosen}, debug=False)
    wrong = settings.from_environment("/tmp", {"KANSA_VISIBILITY": "everyone"})
    with pytest.raises(settings.ConfigError, match="KANSA_VISIBILITY.*organisation, assigned"):
        settings.check({"TESTING": True, **wrong}, debug=False)


@pytest.mark.parametrize(
    "role,organisation,assigned",
    [
        ("admin", Reach.EVERYTHING, Reach.EVERYTHING),
        ("auditor", Reach.EVERYTHING, Reach.ASSIGNMENTS),
        ("reviewer", Reach.EVERYTHING, Reach.ASSIGNMENTS),
        ("viewer", Reach.EVERYTHING, Reach.GRANTS),
    ],
)
def test_the_policy_says_how_far_each_role_reads(role, organisation, assigned):
    person = User(email="p@example.com", name="P", role=role, password_hash="x")
    assert policies.reach(person, "organisation") == organisation
    assert policies.reach(person, "assigned") == assigned


# ------------------------------------------------------------------------------ lists (API)


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("role", sorted(ASSIGNED))
def test_api_lists_hold_only_what_the_reader_may_see(app, world, api, role, setting):
    app.config["VISIBILITY"] = setting
    client = api(role)
    want_assessments, want_subs = expected(role, setting)
    listed = client.get("/api/v1/assessments?page_size=100").get_json()
    assert names(world, "assessments", [a["id"] for a in listed]) == want_assessments
    subs = client.get("/api/v1/subcontractors?page_size=100").get_json()
    assert names(world, "subs", [s["id"] for s in subs]) == want_subs
    findings = client.get("/api/v1/findings?page_size=100").get_json()
    found = names(world, "assessments", [f["assessment_id"] for f in findings])
    assert found == want_assessments & {"a1", "c1"}
    # the filters narrow what is visible, never widen it
    of_bravo = client.get(f"/api/v1/assessments?subcontractor_id={world.subs['bravo']}")
    assert names(world, "assessments", [a["id"] for a in of_bravo.get_json()]) == (
        want_assessments & {"b1"}
    )
    # so do the totals in X-Pagination
    import json

    total = json.loads(client.get("/api/v1/assessments").headers["X-Pagination"])["total"]
    assert total == len(want_assessments)


@pytest.mark.parametrize("setting", SETTINGS)
def test_api_details_of_what_is_out_of_sight_answer_404(app, world, api, setting):
    app.config["VISIBILITY"] = setting
    auditor = api("auditor")
    b1 = world.assessments["b1"]
    paths = [
        f"/api/v1/assessments/{b1}",
        f"/api/v1/assessments/{b1}/answers",
        f"/api/v1/assessments/{b1}/score",
        f"/api/v1/assessments/{b1}/evidence",
        f"/api/v1/assessments/{b1}/answers.csv",
        f"/api/v1/assessments/{b1}/oscal",
        f"/api/v1/evidence/{world.evidence_b1}",
        f"/api/v1/evidence/{world.evidence_b1}/download",
        f"/api/v1/findings/{world.finding_c1}",
        f"/api/v1/subcontractors/{world.subs['bravo']}",
        f"/api/v1/subcontractors/{world.subs['charlie']}",
    ]
    for path in paths:
        response = auditor.get(path)
        if setting == "assigned":
            body = error_of(response, 404)
            assert "no " in body["message"], (path, body)
        else:
            assert response.status_code == 200, (path, response.status_code)
    # the report is refused before it is drawn (drawing one is the PDF tests' business)
    report = auditor.get(f"/api/v1/assessments/{b1}/report.pdf")
    if setting == "assigned":
        error_of(report, 404)
    # what is in sight still answers
    assert auditor.get(f"/api/v1/assessments/{world.assessments['a1']}").status_code == 200
    assert auditor.get(f"/api/v1/findings/{world.finding_a1}").status_code == 200


@pytest.mark.pdf
def test_a_report_in_sight_is_drawn_under_assigned(app, world, api):
    app.config["VISIBILITY"] = "assigned"
    response = api("viewer").get(f"/api/v1/assessments/{world.assessments['b1']}/report.pdf")
    assert response.status_code == 200
    assert response.data.startswith(b"%PDF")


def test_writes_to_what_is_out_of_sight_answer_404(app, world, api):
    app.config["VISIBILITY"] = "assigned"
    auditor2 = api("auditor2")
    a1 = world.assessments["a1"]
    # auditor2 audits a2 of Alpha, not a1; an If-Match naming no revision is 412 for what is in
    # sight, so a 404 here says the row was looked up through the reader's sight first
    response = auditor2.patch(f"/api/v1/assessments/{a1}", json={"title": "x"}, etag='"x"')
    error_of(response, 404)
    response = auditor2.patch(
        f"/api/v1/findings/{world.finding_a1}", json={"owner": "x"}, etag='"x"'
    )
    error_of(response, 404)
    auditor = api("auditor")
    response = auditor.patch(
        f"/api/v1/subcontractors/{world.subs['bravo']}", json={"notes": "x"}, etag='"x"'
    )
    error_of(response, 404)


def test_planning_needs_the_subcontractor_in_sight(app, world, api):
    app.config["VISIBILITY"] = "assigned"
    auditor = api("auditor")
    with app.app_context():
        version_id = factories.version(db.session, "subcontractor-oversight").id
    body = {
        "checklist_version_id": version_id,
        "auditor_ids": [world.ids["auditor"]],
        "reviewer_id": world.ids["reviewer"],
        "due_date": "2027-06-30",
    }
    refused = auditor.post(
        "/api/v1/assessments", json=body | {"subcontractor_id": world.subs["bravo"]}
    )
    assert "subcontractor_id" in error_of(refused, 422)["errors"]
    made = auditor.post(
        "/api/v1/assessments", json=body | {"subcontractor_id": world.subs["alpha"]}
    )
    assert made.status_code == 201, made.get_json()
    # a new parent out of sight is as unknown as a missing one
    moved = auditor.patch(
        f"/api/v1/subcontractors/{world.subs['alpha']}",
        json={"parent_id": world.subs["bravo"]},
        etag="*",
    )
    assert "parent_id" in error_of(moved, 422)["errors"]
    app.config["VISIBILITY"] = "organisation"
    made = auditor.post(
        "/api/v1/assessments", json=body | {"subcontractor_id": world.subs["bravo"]}
    )
    assert made.status_code == 201


# ------------------------------------------------------------------------------ pages


def page_of(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


@pytest.mark.parametrize("setting", SETTINGS)
def test_pages_lists_and_search_hold_only_what_the_reader_may_see(app, world, setting):
    app.config["VISIBILITY"] = setting
    client = sign_in(app, "auditor")
    hidden = setting == "assigned"
    listed = page_of(client, "/assessments/")
    assert "Alpha one" in listed
    assert ("Bravo one" in listed) is not hidden
    assert ("Alpha two" in listed) is not hidden
    searched = page_of(client, "/assessments/?q=Bravo")
    assert ("Bravo one" in searched) is not hidden
    directory = page_of(client, "/subcontractors/")
    assert "Alpha KK" in directory
    assert ("Bravo GK" in directory) is not hidden
    assert ("Delta KK" in directory) is not hidden
    assert ("Charlie KK" in page_of(client, "/subcontractors/?q=Charlie")) is not hidden
    findings = page_of(client, "/findings/")  # each finding names its subcontractor
    assert "Alpha KK" in findings
    assert ("Charlie KK" in findings) is not hidden
    # the new-assessment form offers only subcontractors in sight
    form = page_of(client, "/assessments/new")
    assert ("Bravo GK" in form) is not hidden


@pytest.mark.parametrize("setting", SETTINGS)
def test_pages_of_what_is_out_of_sight_answer_404(app, world, setting):
    app.config["VISIBILITY"] = setting
    client = sign_in(app, "auditor")
    b1 = world.assessments["b1"]
    paths = [
        f"/assessments/{b1}",
        f"/assessments/{b1}/review",
        f"/assessments/{b1}/findings",
        f"/assessments/{b1}/answers.csv",
        f"/assessments/{b1}/oscal.json",
        f"/assessments/{b1}/report.pdf",
        f"/evidence/{world.evidence_b1}/download",
        f"/findings/{world.finding_c1}/edit",
        f"/subcontractors/{world.subs['bravo']}",
        f"/subcontractors/{world.subs['bravo']}/edit",
    ]
    for path in paths:
        if setting == "organisation" and path.endswith("report.pdf"):
            continue  # drawing the PDF is the PDF tests' business
        status = client.get(path).status_code
        if setting == "assigned":
            assert status == 404, (path, status)
        else:
            # the finding of c1 is auditor2's to edit: 403 by role, not by visibility
            assert status in (200, 403), (path, status)


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_profile_shows_only_assessments_and_chain_in_sight(app, world, setting):
    app.config["VISIBILITY"] = setting
    hidden = setting == "assigned"
    alpha = page_of(sign_in(app, "auditor"), f"/subcontractors/{world.subs['alpha']}")
    assert "Alpha one" in alpha
    assert ("Alpha two" in alpha) is not hidden
    assert ("Delta KK" in alpha) is not hidden  # below Alpha, no assessment of the auditor's
    viewer = sign_in(app, "viewer")
    bravo = page_of(viewer, f"/subcontractors/{world.subs['bravo']}")
    assert "Bravo one" in bravo and "Charlie KK" in bravo
    # the grant on Bravo reaches Charlie, below it in the chain, and Charlie's assessment
    assert "Charlie one" in page_of(viewer, f"/subcontractors/{world.subs['charlie']}")
    assert page_of(viewer, f"/assessments/{world.assessments['c1']}")
    status = viewer.get(f"/subcontractors/{world.subs['alpha']}").status_code
    assert status == (404 if hidden else 200)


# ------------------------------------------------------------------------------ the dashboard


@pytest.mark.parametrize("setting", SETTINGS)
def test_dashboard_counts_and_lists_hold_only_what_the_reader_may_see(app, world, setting):
    app.config["VISIBILITY"] = setting
    hidden = setting == "assigned"
    with app.app_context():
        session = visibility.bind(db.session, setting)
        auditor = session.get(User, world.ids["auditor"])
        board = worklists.dashboard(session, auditor, date(2026, 12, 1), "UTC")
        # b1, Bravo's approval, is the only rating; the auditor does not see it under assigned
        assert sum(board.ratings.values()) == (0 if hidden else 1)
        due = {row.subcontractor.name for row in board.schedule}
        assert due == (
            {"Alpha KK", "Delta KK", "Charlie KK"}
            - ({"Delta KK", "Charlie KK"} if hidden else set())
        )
        seen = {event.assessment_id for event in board.events}
        assert (seen <= {world.assessments["a1"]}) is hidden
        viewer = session.get(User, world.ids["viewer"])
        counts = schedule.rating_counts(session, visibility.scope(session, viewer))
        assert sum(counts.values()) == 1  # the grant on Bravo shows its rating
    page = page_of(sign_in(app, "auditor"), "/")
    assert ("Charlie KK" in page) is not hidden
    # recent activity links each event to its assessment
    assert (f'href="/assessments/{world.assessments["b1"]}"' in page) is not hidden


def test_the_session_reads_under_the_app_setting(app, world):
    app.config["VISIBILITY"] = "assigned"
    with app.app_context():
        assert visibility.setting(db.session) == Visibility.ASSIGNED
    app.config["VISIBILITY"] = "organisation"
    with app.app_context():
        assert visibility.setting(db.session) == Visibility.ORGANISATION


# ------------------------------------------------------------------------------ grants


def test_admins_grant_and_revoke_through_the_api_and_it_is_recorded(app, world, api):
    app.config["VISIBILITY"] = "assigned"
    admin, viewer2 = api("admin"), api("viewer2")
    alpha = world.subs["alpha"]
    assert viewer2.get(f"/api/v1/subcontractors/{alpha}").status_code == 404
    made = admin.post(
        f"/api/v1/subcontractors/{alpha}/viewers", json={"user_id": world.ids["viewer2"]}
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["email"] == "viewer2@example.com"
    assert made.headers["Location"].endswith(
        f"/subcontractors/{alpha}/viewers/{world.ids['viewer2']}"
    )
    one = admin.get(made.headers["Location"])
    assert one.status_code == 200 and one.get_json()["user_id"] == world.ids["viewer2"]
    listed = admin.get(f"/api/v1/subcontractors/{alpha}/viewers").get_json()
    assert [g["user_id"] for g in listed] == [world.ids["viewer2"]]
    # the grant reaches Alpha, Delta below it, and Alpha's assessments
    assert viewer2.get(f"/api/v1/subcontractors/{world.subs['delta']}").status_code == 200
    seen = {a["id"] for a in viewer2.get("/api/v1/assessments").get_json()}
    assert seen == {world.assessments["a1"], world.assessments["a2"]}
    gone = admin.delete(f"/api/v1/subcontractors/{alpha}/viewers/{world.ids['viewer2']}")
    assert gone.status_code == 204
    assert viewer2.get(f"/api/v1/subcontractors/{alpha}").status_code == 404
    error_of(admin.delete(f"/api/v1/subcontractors/{alpha}/viewers/{world.ids['viewer2']}"), 404)
    with app.app_context():
        actions = [
            (e.action, e.object_id)
            for e in db.session.exec(
                select(AuditEvent).where(AuditEvent.action.like("subcontractor.viewer_%"))
            ).all()
        ]
    assert actions[-2:] == [
        ("subcontractor.viewer_granted", str(alpha)),
        ("subcontractor.viewer_revoked", str(alpha)),
    ]


def test_grants_are_for_viewers_and_given_by_admins_only(app, world, api):
    admin = api("admin")
    alpha = world.subs["alpha"]
    body = error_of(
        admin.post(
            f"/api/v1/subcontractors/{alpha}/viewers", json={"user_id": world.ids["auditor"]}
        ),
        422,
    )
    assert "grants are for viewers" in body["errors"]["user_id"][0]
    error_of(admin.post(f"/api/v1/subcontractors/{alpha}/viewers", json={"user_id": 999999}), 422)
    error_of(
        admin.post("/api/v1/subcontractors/999999/viewers", json={"user_id": world.ids["viewer2"]}),
        404,
    )
    refused = api("auditor").post(
        f"/api/v1/subcontractors/{alpha}/viewers", json={"user_id": world.ids["viewer2"]}
    )
    error_of(refused, 403)


def test_admins_grant_and_revoke_on_the_subcontractor_page(app, world):
    app.config["VISIBILITY"] = "assigned"
    admin = sign_in(app, "admin")
    alpha = world.subs["alpha"]
    page = page_of(admin, f"/subcontractors/{alpha}")
    assert "Grant a viewer" in page and "viewer2@example.com" in page
    token = csrf_token(admin, f"/subcontractors/{alpha}")
    response = admin.post(
        f"/subcontractors/{alpha}/viewers",
        data={"user_id": world.ids["viewer2"], "csrf_token": token},
    )
    assert response.status_code == 302
    viewer2 = sign_in(app, "viewer2")
    assert "Alpha one" in page_of(viewer2, "/assessments/")
    page = page_of(admin, f"/subcontractors/{alpha}")
    revoke = re.search(
        rf'action="(/subcontractors/{alpha}/viewers/{world.ids["viewer2"]}/revoke)"', page
    )
    assert revoke, "no revoke button for the granted viewer"
    assert admin.post(revoke.group(1), data={"csrf_token": token}).status_code == 302
    assert "Alpha one" not in page_of(viewer2, "/assessments/")
    assert viewer2.get(f"/subcontractors/{alpha}").status_code == 404
    # the page names what went wrong with a grant nobody may receive
    response = admin.post(
        f"/subcontractors/{alpha}/viewers",
        data={"user_id": world.ids["auditor"], "csrf_token": token},
        follow_redirects=True,
    )
    assert "grants are for viewers" in response.get_data(as_text=True)
    # others see no grant section, and may not post to it
    assert "Grant a viewer" not in page_of(sign_in(app, "auditor"), f"/subcontractors/{alpha}")
    with app.app_context():
        grants = db.session.exec(select(ViewerGrant)).all()
        assert {(g.user_id, g.subcontractor_id) for g in grants} == {
            (world.ids["viewer"], world.subs["bravo"])
        }


def test_a_grant_goes_with_its_subcontractor(app, world):
    with app.app_context():
        session = db.session
        admin = session.get(User, world.ids["admin"])
        lone = factories.subcontractor(session, admin, "Echo KK")
        visibility.grant(session, admin, lone.id, world.ids["viewer2"])
        session.commit()
        from audit.services.subcontractors import register

        register.delete(session, admin, lone)
        session.commit()
        left = session.exec(select(ViewerGrant).where(ViewerGrant.user_id == world.ids["viewer2"]))
        assert left.all() == []


def test_what_a_planner_records_out_of_their_sight_does_not_end_on_a_404(app, world):
    app.config["VISIBILITY"] = "assigned"
    auditor = sign_in(app, "auditor")
    token = csrf_token(auditor, "/subcontractors/new")
    response = auditor.post(
        "/subcontractors/new",
        data={"name": "Foxtrot KK", "country": "JP", "tier": "2", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/subcontractors/")
    listed = page_of(auditor, "/subcontractors/")
    assert "It will be in your list once you are assigned" in listed
    assert "Foxtrot KK" in page_of(sign_in(app, "admin"), "/subcontractors/")
