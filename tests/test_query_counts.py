"""The number of SQL statements a list page or API list sends does not grow with the data.

Every list of the application, the dashboard and the forms that choose among rows are read
at two sizes of the same programme (3 and then 12 subcontractors, each with an approved
assessment holding findings, some with an open one, a re-entrustment chain, a person per
subcontractor, webhook deliveries and the audit trail all of that writes) and their query
counts compared: a statement per row (an N+1) shows as a count that differs. The counts are
taken on the second request of each URL, so a cache filled on first use does not count.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import Subcontractor, User, utcnow
from audit.services import assessments, tokens, users, webhooks
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import csrf_token

SMALL, LARGE = 3, 12
HOOK_URL = "https://93.184.216.34/hook"

#: the pages, as each role that may open them sees them
PAGES = (
    "/",
    "/subcontractors/",
    "/subcontractors/?overdue=1",
    "/subcontractors/?rating=D&country=JP&tier=1&q=co",
    "/findings/",
    "/assessments/",
    "/assessments/?state=approved",
    "/assessments/new",
    "/subcontractors/new",
)
#: the API lists, read by an admin with an admin-scope token; pages hold every row at both sizes
API_LISTS = tuple(
    f"{url}{'&' if '?' in url else '?'}page_size=100"
    for url in (
        "/api/v1/subcontractors",
        "/api/v1/subcontractors?country=JP&rating=D",
        "/api/v1/subcontractors?overdue=true",
        "/api/v1/findings",
        "/api/v1/assessments",
        "/api/v1/users",
        "/api/v1/webhooks/deliveries",
    )
) + ("/api/v1/events?limit=1000",)


def _team(session) -> factories.Team:
    return factories.Team(
        *(
            session.exec(select(User).where(User.email == f"{role}@example.com")).one()
            for role in ("admin", "auditor", "auditor2", "reviewer", "viewer")
        )
    )


def grow(app, first: int, last: int) -> None:
    """Subcontractors ``first`` to ``last - 1``, each with the work a programme gives it."""
    with app.app_context():
        session = db.session
        people = _team(session)
        today = date.today()
        for n in range(first, last):
            parent = session.exec(
                select(Subcontractor).where(Subcontractor.name == f"Company {n - 1:02d}")
            ).first()
            company = factories.subcontractor(
                session,
                people.admin,
                f"Company {n:02d}",
                tier=n % 3 + 1,
                country="JP" if n % 2 else "SG",
                parent_id=parent.id if parent is not None and n % 3 else None,
            )
            users.create_user(
                session,
                f"person{n:02d}@example.com",
                "x" * 12,
                "viewer",
                hash_method=factories.FAST_HASH,
            )
            done = factories.assessment(
                session, people, company=company, due_date=today - timedelta(days=400 + n)
            )
            checklist = assessments.definition(session, done)
            inputs = [
                AnswerInput(
                    item.ref,
                    "non_compliant" if k % 4 == n % 4 else "compliant",
                    "a gap seen on site" if k % 4 == n % 4 else "",
                )
                for k, item in enumerate(checklist.items())
            ]
            assessments.save_answers(session, people.auditor, done, inputs, None)
            assessments.submit(session, people.auditor, done, None)
            assessments.approve(session, people.reviewer, done, None)
            if n % 3 == 0:  # tier 1, approved over a year ago: overdue
                done.approved_at = utcnow() - timedelta(days=400)
                session.add(done)
            if n % 2:
                opened = factories.assessment(
                    session, people, company=company, due_date=today + timedelta(days=n)
                )
                assessments.save_answers(
                    session, people.auditor, opened, inputs[: len(inputs) // 2], None
                )
            session.commit()


@pytest.fixture
def programme(app, loaded_checklists):
    """The people, a webhook that every approval queues a delivery for, and SMALL companies.

    Pages of 100 rows: every row of the larger programme is on the first page, so a statement
    per row shows.
    """
    app.config["PAGE_SIZE"] = 100
    with app.app_context():
        people = factories.team(db.session)
        webhooks.register(
            db.session,
            people.admin,
            url=HOOK_URL,
            secret="s" * 32,
            events=["assessment.submitted", "assessment.approved"],
        )
        db.session.commit()
    grow(app, 0, SMALL)
    return app


def _admin_token(app) -> str:
    """A fresh token: its first use writes ``last_used_at``, the warm-up request takes that."""
    with app.app_context():
        admin = db.session.exec(select(User).where(User.email == "admin@example.com")).one()
        _, secret = tokens.create(db.session, admin, name="counts", scope="admin")
        db.session.commit()
        return secret


def counts(app, client, count_queries) -> dict[str, int]:
    """Statements per request of every page (per role) and API list, each on a second request."""

    def second(url: str, **kw) -> int:
        first = client.get(url, **kw)
        assert first.status_code == 200, (url, first.status_code)
        with count_queries() as statements:
            again = client.get(url, **kw)
        assert again.status_code == 200, (url, again.status_code)
        return len(statements)

    found: dict[str, int] = {}
    for role in ("admin", "auditor", "viewer"):
        login = client.post(
            "/auth/login",
            data={
                "email": f"{role}@example.com",
                "password": factories.PASSWORD,
                "csrf_token": csrf_token(client),
            },
        )
        assert login.status_code == 302, role
        for url in PAGES:
            if role == "viewer" and url.endswith("/new"):
                continue  # viewers create nothing
            found[f"{role} {url}"] = second(url)
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    bearer = {"Authorization": f"Bearer {_admin_token(app)}"}
    for url in API_LISTS:
        found[f"api {url}"] = second(url, headers=bearer)
    return found


def _check_filled(app, client) -> None:
    """The larger programme shows on the lists: the counts compare filled pages."""
    bearer = {"Authorization": f"Bearer {_admin_token(app)}"}

    def listed(url: str) -> int:
        return len(client.get(f"{url}?page_size=100", headers=bearer).get_json())

    assert listed("/api/v1/subcontractors") == LARGE
    assert listed("/api/v1/assessments") > LARGE
    assert listed("/api/v1/findings") > 25  # more than one default page
    assert listed("/api/v1/webhooks/deliveries") >= 2 * LARGE
    assert listed("/api/v1/users") > LARGE
    events = client.get("/api/v1/events?limit=1000", headers=bearer).get_json()["events"]
    assert len(events) > 100  # more than one default batch


def test_no_list_sends_more_queries_as_the_data_grows(programme, client, count_queries):
    small = counts(programme, client, count_queries)
    grow(programme, SMALL, LARGE)
    large = counts(programme, client, count_queries)
    _check_filled(programme, client)
    grown = {url: (small[url], large[url]) for url in small if small[url] != large[url]}
    assert set(small) == set(large)
    assert not grown, f"query counts at {SMALL} -> {LARGE} subcontractors: {grown}"
