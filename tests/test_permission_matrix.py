"""The permission matrix: every route of the app, against every role, anonymous and token scope.

Each route in the app's URL map must have a rule below; a new route without one fails the
suite. A rule says who may pass. "Pass" means the request was not refused for who sent it: no
401/403 and no redirect to the sign-in page (it may still fail validation with 400/422, or
find a conflict). "Refused" means 403 (web, API), a sign-in redirect (anonymous on a page) or
401 (anonymous on the API). POSTs carry a valid CSRF token, so a refusal is never CSRF's.

Every case runs under both visibility settings (``KANSA_VISIBILITY``). Under ``organisation``
the rules below hold as they are. Under ``assigned`` a person also needs to see the row a route
is about (``SEES``): one who would pass by role but may not see the row must get 404, exactly,
as if it did not exist; the others pass or are refused as under ``organisation``. The people:
'auditor' and 'reviewer' are assigned to every assessment of the world, 'auditor2' to none;
'granted' is a viewer granted the top subcontractor of the world (every other one is below it
in its chain), 'viewer' is granted nothing.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import User
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services import tokens as token_service
from audit.services import users, visibility, webhooks
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import csrf_token

# refused ones tend to go first
ROLES = ("viewer", "granted", "auditor2", "reviewer", "auditor", "admin")
VISIBILITIES = ("organisation", "assigned")
ALL = frozenset(ROLES)
PUBLIC = frozenset({"anonymous", *ROLES})
EDITORS = frozenset({"auditor", "admin"})  # 'auditor' is assigned to the open assessment
AUDITORS = frozenset({"auditor", "auditor2", "admin"})
REVIEWERS = frozenset({"reviewer", "admin"})  # 'reviewer' is the assigned reviewer
ADMINS = frozenset({"admin"})
FINDING_EDITORS = frozenset({"auditor", "reviewer", "admin"})

# endpoint -> {method: roles that pass}; "anonymous" in a set means the page is public
WEB_RULES: dict[str, dict[str, frozenset[str]]] = {
    "static": {"GET": PUBLIC},
    "auth.login": {"GET": PUBLIC, "POST": PUBLIC},
    "auth.logout": {"POST": ALL},
    "main.index": {"GET": ALL},
    "assessments.list_": {"GET": ALL},
    "assessments.new": {"GET": AUDITORS, "POST": AUDITORS},
    "assessments.detail": {"GET": ALL},
    "assessments.review": {"GET": ALL},
    "assessments.save_section": {"POST": EDITORS},
    "assessments.submit": {"POST": EDITORS},
    "assessments.upload_evidence": {"POST": EDITORS},
    "assessments.score_preview": {"POST": ALL},
    "assessments.approve": {"POST": REVIEWERS},
    "assessments.return_": {"POST": REVIEWERS},
    "assessments.download_evidence": {"GET": ALL},
    "assessments.export_csv": {"GET": ALL},
    "assessments.export_oscal": {"GET": ALL},
    "assessments.export_poam": {"GET": ALL},
    "reports.assessment_pdf": {"GET": ALL},
    "findings.list_": {"GET": ALL},
    "findings.for_assessment": {"GET": ALL},
    "findings.edit": {"GET": FINDING_EDITORS, "POST": FINDING_EDITORS},
    "subcontractors.list_": {"GET": ALL},
    "subcontractors.detail": {"GET": ALL},
    "subcontractors.new": {"GET": AUDITORS, "POST": AUDITORS},
    "subcontractors.edit": {"GET": AUDITORS, "POST": AUDITORS},
    "subcontractors.grant": {"POST": ADMINS},
    "subcontractors.revoke": {"POST": ADMINS},
    "checklists.list_": {"GET": ALL},
    "checklists.version": {"GET": ALL},
    "admin.users": {"GET": ADMINS, "POST": ADMINS},
    "admin.change": {"POST": ADMINS},
    "webhooks.index": {"GET": ADMINS, "POST": ADMINS},
    "webhooks.toggle": {"POST": ADMINS},
    "webhooks.edit": {"GET": ADMINS, "POST": ADMINS},
    "webhooks.rotate": {"POST": ADMINS},
    "webhooks.delete": {"GET": ADMINS, "POST": ADMINS},
    "webhooks.retry": {"POST": ADMINS},
    "tokens.list_": {"GET": ALL},
    "tokens.create": {"POST": ALL},
    # a token is its owner's: revoking someone else's is answered 404, as if it did not exist
    "tokens.revoke": {"POST": frozenset({"auditor"})},
}

# API: (endpoint, method) -> (scope the token needs, roles that pass)
READ, WRITE, ADMIN = "read", "write", "admin"
API_RULES: dict[tuple[str, str], tuple[str | None, frozenset[str]]] = {
    ("api-docs.openapi_json", "GET"): (None, PUBLIC),
    ("api_docs_page.docs", "GET"): (None, PUBLIC),
    ("api_me.me", "GET"): (READ, ALL),
    ("api_checklists.Checklists", "GET"): (READ, ALL),
    ("api_checklists.Checklists", "POST"): (ADMIN, ADMINS),
    ("api_checklists.ChecklistOne", "GET"): (READ, ALL),
    ("api_checklists.VersionOne", "GET"): (READ, ALL),
    ("api_checklists.ScorePreview", "POST"): (READ, ALL),
    ("api_subcontractors.Subcontractors", "GET"): (READ, ALL),
    ("api_subcontractors.Subcontractors", "POST"): (WRITE, AUDITORS),
    ("api_subcontractors.SubcontractorOne", "GET"): (READ, ALL),
    ("api_subcontractors.SubcontractorOne", "PATCH"): (WRITE, AUDITORS),
    ("api_subcontractors.SubcontractorOne", "DELETE"): (WRITE, ADMINS),
    ("api_subcontractors.Viewers", "GET"): (ADMIN, ADMINS),
    ("api_subcontractors.Viewers", "POST"): (ADMIN, ADMINS),
    ("api_subcontractors.ViewerOne", "GET"): (ADMIN, ADMINS),
    ("api_subcontractors.ViewerOne", "DELETE"): (ADMIN, ADMINS),
    ("api_assessments.Assessments", "GET"): (READ, ALL),
    ("api_assessments.Assessments", "POST"): (WRITE, AUDITORS),
    ("api_assessments.AssessmentOne", "GET"): (READ, ALL),
    ("api_assessments.AssessmentOne", "PATCH"): (WRITE, EDITORS),
    ("api_assessments.AssessmentOne", "DELETE"): (WRITE, frozenset({"auditor", "admin"})),
    ("api_assessments.submit", "POST"): (WRITE, EDITORS),
    ("api_assessments.approve", "POST"): (WRITE, REVIEWERS),
    ("api_assessments.return_", "POST"): (WRITE, REVIEWERS),
    ("api_answers.Answers", "GET"): (READ, ALL),
    ("api_answers.Answers", "PATCH"): (WRITE, EDITORS),
    ("api_answers.AnswerOne", "PUT"): (WRITE, EDITORS),
    ("api_answers.score", "GET"): (READ, ALL),
    ("api_evidence.AssessmentEvidence", "GET"): (READ, ALL),
    ("api_evidence.AssessmentEvidence", "POST"): (WRITE, EDITORS),
    ("api_evidence.EvidenceOne", "GET"): (READ, ALL),
    ("api_evidence.download", "GET"): (READ, ALL),
    ("api_findings.Findings", "GET"): (READ, ALL),
    ("api_findings.FindingOne", "GET"): (READ, ALL),
    ("api_findings.FindingOne", "PATCH"): (WRITE, FINDING_EDITORS),
    ("api_reports.Report", "GET"): (READ, ALL),
    ("api_exports.AnswersCsv", "GET"): (READ, ALL),
    ("api_exports.Oscal", "GET"): (READ, ALL),
    ("api_exports.AssessmentPoam", "GET"): (READ, ALL),
    ("api_exports.OpenPoam", "GET"): (READ, ALL),
    ("api_webhooks.Webhooks", "GET"): (ADMIN, ADMINS),
    ("api_webhooks.Webhooks", "POST"): (ADMIN, ADMINS),
    ("api_webhooks.WebhookOne", "GET"): (ADMIN, ADMINS),
    ("api_webhooks.WebhookOne", "PATCH"): (ADMIN, ADMINS),
    ("api_webhooks.WebhookOne", "DELETE"): (ADMIN, ADMINS),
    ("api_webhooks.rotate_secret", "POST"): (ADMIN, ADMINS),
    ("api_webhooks.Deliveries", "GET"): (ADMIN, ADMINS),
    ("api_webhooks.Retry", "POST"): (ADMIN, ADMINS),
    ("api_users.Users", "GET"): (READ, ALL),
    # an auditor: everyone sees the active people who can be assigned
    ("api_users.UserOne", "GET"): (READ, ALL),
    ("api_events.AssessmentEvents", "GET"): (READ, ALL),
    ("api_events.Events", "GET"): (ADMIN, ADMINS),
}
SCOPES = (READ, WRITE, ADMIN)


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_a_rule(app):
    ruled = {(e, m) for e, methods in WEB_RULES.items() for m in methods} | set(API_RULES)
    missing = app_routes(app) - ruled
    assert not missing, f"routes without a permission rule: {sorted(missing)}"
    stale = ruled - app_routes(app)
    assert not stale, f"rules for routes that no longer exist: {sorted(stale)}"


# ------------------------------------------------------------------------------ the world


@dataclass
class World:
    ids: dict[str, int]
    open_id: int
    submitted_id: int
    draft_id: int
    subcontractor_id: int
    spare_subcontractor_id: int
    evidence_id: int
    finding_id: int
    hook_id: int
    delivery_id: int
    token_id: int
    version_id: int


@pytest.fixture
def world(app, loaded_checklists) -> World:
    with app.app_context():
        session = db.session
        people = factories.team(session)
        company = factories.subcontractor(session, people.admin, "Open Co")
        # every other subcontractor is below Open Co in its chain, so 'granted' sees them all
        below = {"parent_id": company.id}
        spare = factories.subcontractor(session, people.admin, "Spare Co", **below)
        granted = users.create_user(
            session,
            "granted@example.com",
            factories.PASSWORD,
            "viewer",
            hash_method=factories.FAST_HASH,
        )
        visibility.grant(session, people.admin, company.id, granted.id)
        hooked = webhooks.register(
            session,
            people.admin,
            url="http://127.0.0.1:9/hook",
            secret="s" * 20,
            events=["assessment.submitted"],
            settings=webhooks.Settings.from_config(app.config),
        )
        opened = factories.assessment(session, people, company=company)
        svc.save_answers(
            session, people.auditor, opened, [AnswerInput("SO-1.1", "non_compliant", "gap")], None
        )
        evidence = evidence_svc.add(
            session,
            people.auditor,
            opened,
            filename="e.txt",
            content_type="text/plain",
            data=b"x",
            max_bytes=100,
        )
        submitted = factories.assessment(
            session,
            people,
            company=factories.subcontractor(session, people.admin, "Sub Co", **below),
        )
        checklist = svc.definition(session, submitted)
        svc.save_answers(
            session,
            people.auditor,
            submitted,
            [AnswerInput(i.ref, "compliant") for i in checklist.items()],
            None,
        )
        svc.submit(session, people.auditor, submitted, None)
        draft = factories.assessment(
            session,
            people,
            company=factories.subcontractor(session, people.admin, "Draft Co", **below),
        )
        session.commit()
        from audit.models import Finding, WebhookDelivery

        finding = session.exec(select(Finding)).first()
        delivery = session.exec(select(WebhookDelivery)).first()
        token, _ = token_service.create(session, people.auditor, name="t", scope="read")
        session.commit()
        return World(
            ids={r: getattr(people, r).id for r in people.__dataclass_fields__}
            | {"granted": granted.id},
            open_id=opened.id,
            submitted_id=submitted.id,
            draft_id=draft.id,
            subcontractor_id=company.id,
            spare_subcontractor_id=spare.id,
            evidence_id=evidence.id,
            finding_id=finding.id,
            hook_id=hooked.id,
            delivery_id=delivery.id,
            token_id=token.id,
            version_id=opened.checklist_version_id,
        )


def url_for_rule(app, endpoint: str, w: World) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    review = endpoint.endswith(("approve", "return_"))
    values = {
        "assessment_id": w.submitted_id if review else w.open_id,
        "section_ref": "SO-1",
        "evidence_id": w.evidence_id,
        "finding_id": w.finding_id,
        "subcontractor_id": w.subcontractor_id,
        "slug": "subcontractor-oversight",
        "version": "1.0.0",
        "user_id": w.ids["granted" if endpoint.endswith(("revoke", "ViewerOne")) else "viewer"],
        "hook_id": w.hook_id,
        "delivery_id": w.delivery_id,
        "token_id": w.token_id,
        "filename": "kansa.css",
        "ref": "SO-1.2",
    }
    if endpoint == "api_assessments.AssessmentOne":
        values["assessment_id"] = w.draft_id
    if endpoint == "api_subcontractors.SubcontractorOne":
        values["subcontractor_id"] = w.spare_subcontractor_id
    if endpoint == "api_users.UserOne":
        values["user_id"] = w.ids["auditor"]
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


#: under ``assigned``, who sees the row each kind of route is about
SEES: dict[str, frozenset[str]] = {
    "assessment": frozenset({"auditor", "reviewer", "granted", "admin"}),
    "company": frozenset({"auditor", "reviewer", "granted", "admin"}),
    # Spare Co has no assessment: only the grant on its parent and admins reach it
    "spare": frozenset({"granted", "admin"}),
}


def target_of(app, endpoint: str) -> str | None:
    """The kind of row a route is about (a key of ``SEES``), or None for lists and the rest."""
    if endpoint == "api_subcontractors.SubcontractorOne":
        return "spare"
    if endpoint == "api_exports.OpenPoam":  # the open findings in sight: none is a 404
        return "assessment"
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    if any(k in rule.arguments for k in ("assessment_id", "evidence_id", "finding_id")):
        return "assessment"
    if "subcontractor_id" in rule.arguments:
        return "company"
    return None


def hidden_from(app, endpoint: str, role: str, setting: str) -> bool:
    """Whether the row of this route is out of ``role``'s sight under ``setting``."""
    target = target_of(app, endpoint)
    return setting == "assigned" and target is not None and role not in SEES[target]


def sign_in(client, role: str) -> None:
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": f"{role}@example.com", "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302


# ------------------------------------------------------------------------------ pages


#: the pages that render a PDF (WeasyPrint) for whoever may see them: a second or more each
PDF_PAGES = frozenset({"reports.assessment_pdf"})


# the PDF pages are a case of their own, so that `make test-fast` checks every other page
@pytest.mark.parametrize("setting", VISIBILITIES)
@pytest.mark.parametrize(
    "actor,pages",
    [
        *((actor, "html") for actor in ["anonymous", *ROLES]),
        ("anonymous", "pdf"),
        *(pytest.param(role, "pdf", marks=pytest.mark.pdf) for role in ROLES),
    ],
)
def test_pages_against_every_role(app, world, actor, pages, setting):
    app.config["VISIBILITY"] = setting
    client = app.test_client()
    if actor != "anonymous":
        sign_in(client, actor)
    token = csrf_token(client, "/auth/login" if actor == "anonymous" else "/")
    wrong: list[str] = []
    checks = sorted(
        (
            (e, m)
            for e, methods in WEB_RULES.items()
            for m in methods
            if (e in PDF_PAGES) == (pages == "pdf")
        ),
        key=lambda pair: pair[0] == "auth.logout",  # signing out goes last
    )
    assert checks, "no page to check"
    for endpoint, method in checks:
        by_role = actor in WEB_RULES[endpoint][method]
        hidden = hidden_from(app, endpoint, actor, setting)
        allowed = by_role and not hidden
        url = url_for_rule(app, endpoint, world)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token})
        assert response.status_code < 500, (endpoint, method, response.status_code)
        anonymous = actor == "anonymous"
        refused = (
            (response.status_code == 302 and "/auth/login" in response.headers["Location"])
            if anonymous
            else response.status_code == 403
        )
        if endpoint == "tokens.revoke" and not anonymous and response.status_code == 404:
            refused = True
        if setting == "assigned" and not anonymous:
            refused = refused or response.status_code == 404
            if by_role and hidden and response.status_code != 404:
                wrong.append(f"{method} {endpoint} ({url}): {response.status_code}, expected 404")
                continue
        if allowed == refused:
            wrong.append(
                f"{method} {endpoint} ({url}): {response.status_code}, "
                f"expected {'pass' if allowed else 'refusal'}"
            )
    assert not wrong, f"{actor} under {setting}:\n" + "\n".join(wrong)


# ------------------------------------------------------------------------------ the API


EXTRA_CHECKLIST = (
    b"slug: extra\nversion: 1.0.0\ntitle: Extra\nsections:\n- ref: X-1\n  title: X\n"
    b"  items:\n  - ref: X-1.1\n    question: Q\n    guidance: G\n    weight: 1\n"
    b"    references: {appi: [Art. 25]}\n"
)


def api_body(endpoint: str, method: str, w: World) -> dict[str, Any]:
    """A valid request, so that only who sends it can make it fail."""
    answers = {"answers": [{"ref": "SO-1.2", "status": "compliant", "comment": ""}]}
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("api_checklists.Checklists", "POST"): {
            "data": {
                "file": (
                    io.BytesIO(EXTRA_CHECKLIST),
                    "extra.yaml",
                )
            },
            "content_type": "multipart/form-data",
        },
        ("api_checklists.ScorePreview", "POST"): {"json": {"answers": {}}},
        ("api_subcontractors.Subcontractors", "POST"): {
            "json": {"name": "New Co", "country": "JP", "tier": 2}
        },
        ("api_subcontractors.SubcontractorOne", "PATCH"): {"json": {"notes": "n"}},
        ("api_assessments.Assessments", "POST"): {
            "json": {
                "subcontractor_id": w.subcontractor_id,
                "checklist_version_id": w.version_id,
                "auditor_ids": [w.ids["auditor"]],
                "reviewer_id": w.ids["reviewer"],
                "due_date": "2027-01-31",
            }
        },
        ("api_assessments.AssessmentOne", "PATCH"): {"json": {"title": "Renamed"}},
        ("api_assessments.approve", "POST"): {"json": {"comment": "ok"}},
        ("api_assessments.return_", "POST"): {"json": {"comment": "redo"}},
        ("api_answers.Answers", "PATCH"): {"json": answers},
        ("api_answers.AnswerOne", "PUT"): {"json": {"status": "compliant", "comment": ""}},
        ("api_evidence.AssessmentEvidence", "POST"): {
            "data": {"file": (io.BytesIO(b"evidence"), "e2.txt")},
            "content_type": "multipart/form-data",
        },
        ("api_findings.FindingOne", "PATCH"): {"json": {"owner": "Legal"}},
        ("api_webhooks.Webhooks", "POST"): {
            "json": {
                "url": "http://127.0.0.1:9/x",
                "secret": "t" * 20,
                "events": ["assessment.approved"],
            }
        },
        ("api_webhooks.WebhookOne", "PATCH"): {"json": {"active": True}},
        ("api_subcontractors.Viewers", "POST"): {"json": {"user_id": w.ids["granted"]}},
    }
    return bodies.get((endpoint, method), {})


def etag_for(client, headers, endpoint: str, w: World, url: str) -> str:
    if endpoint in ("api_findings.FindingOne", "api_subcontractors.SubcontractorOne"):
        return client.get(url, headers=headers).headers.get("ETag", '"none"')
    target = (
        w.submitted_id
        if endpoint.endswith(("approve", "return_"))
        else (w.draft_id if endpoint == "api_assessments.AssessmentOne" else w.open_id)
    )
    response = client.get(f"/api/v1/assessments/{target}", headers=headers)
    return response.headers.get("ETag", '"none"')


def api_actors(app, w: World) -> list[tuple[str, str | None, str | None]]:
    """(role, scope, secret): every role with a write token, admin with every scope."""
    actors: list[tuple[str, str | None, str | None]] = [("anonymous", None, None)]
    with app.app_context():
        for role in ROLES:
            for scope in SCOPES:
                user = db.session.get(User, w.ids[role])
                _, secret = token_service.create(
                    db.session, user, name=f"{role}-{scope}", scope=scope
                )
                actors.append((role, scope, secret))
        db.session.commit()
    return actors


def passes(rule: tuple[str | None, frozenset[str]], role: str, scope: str | None) -> bool:
    needed, roles = rule
    if needed is None:
        return True
    if scope is None:
        return False
    return SCOPES.index(scope) >= SCOPES.index(needed) and role in roles


# the report case renders a PDF (WeasyPrint) for every actor: about 26 s
@pytest.mark.parametrize("setting", VISIBILITIES)
@pytest.mark.parametrize(
    "endpoint,method",
    [
        pytest.param(*rule, marks=pytest.mark.pdf)
        if rule == ("api_reports.Report", "GET")
        else rule
        for rule in sorted(API_RULES)
    ],
)
def test_api_against_every_role_and_scope(app, world, endpoint, method, setting):
    client = app.test_client()
    url = url_for_rule(app, endpoint, world)
    rule = API_RULES[(endpoint, method)]
    actors = api_actors(app, world)
    app.config["VISIBILITY"] = setting

    def expected(role: str, scope: str | None) -> bool:
        return passes(rule, role, scope) and not hidden_from(app, endpoint, role, setting)

    # refusals first, while the data is as set up; then the ones that pass (they may change it)
    actors.sort(key=lambda a: expected(a[0], a[1]))
    wrong = []
    gone = False  # a DELETE that passed leaves nothing for the next one to find
    for role, scope, secret in actors:
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        if method != "GET" and secret:
            headers["If-Match"] = etag_for(client, headers, endpoint, world, url)
        kwargs = api_body(endpoint, method, world)
        if "data" in kwargs:  # a fresh file object for every request
            kwargs = api_body(endpoint, method, world)
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code < 500, (endpoint, method, role, response.get_data())
        status = response.status_code
        refused = status in (401, 403)
        expected_pass = expected(role, scope)
        if setting == "assigned" and secret:
            if passes(rule, role, scope) and not expected_pass and status != 404:
                wrong.append(f"{role}/{scope}: {status}, expected 404 (out of sight)")
                continue
            refused = refused or (status == 404 and not gone)
        if method == "DELETE" and expected_pass and status < 300:
            gone = True
        if expected_pass == refused:
            wrong.append(
                f"{role}/{scope}: {response.status_code} {response.get_data(as_text=True)[:160]}"
            )
        if not secret and rule[0] is not None:
            assert response.status_code == 401, (endpoint, response.status_code)
    assert not wrong, f"{method} {endpoint} under {setting}:\n" + "\n".join(wrong)
