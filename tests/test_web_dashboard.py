"""Dashboard and user administration pages."""

from datetime import date, timedelta

import pytest
from sqlmodel import select

from audit.extensions import db
from audit.models import Assessment, User
from audit.services import assessments as svc
from audit.services.assessments import AnswerInput
from tests import factories
from tests.conftest import csrf_token
from tests.test_web_assessments import sign_in


@pytest.fixture
def people(app, loaded_checklists):
    with app.app_context():
        team = factories.team(db.session)
        return {r: getattr(team, r).id for r in team.__dataclass_fields__}


def make_assessment(app, people, name, due, approve=False, answers=None):
    with app.app_context():
        session = db.session
        team = factories.Team(
            *(
                session.get(User, people[r])
                for r in ("admin", "auditor", "auditor2", "reviewer", "viewer")
            )
        )
        made = factories.assessment(
            session,
            team,
            company=factories.subcontractor(session, team.admin, name),
            due_date=due,
        )
        if answers or approve:
            checklist = svc.definition(session, made)
            chosen = answers or {}
            svc.save_answers(
                session,
                team.auditor,
                made,
                [
                    AnswerInput(i.ref, *chosen.get(i.ref, ("compliant", "")))
                    for i in checklist.items()
                ],
                None,
            )
        if approve:
            svc.submit(session, team.auditor, made, None)
            svc.approve(session, team.reviewer, made, None)
        session.commit()
        return made.id


def test_dashboard_lists_my_open_work_overdue_first(client, app, people):
    today = date.today()
    later = make_assessment(app, people, "Later Co", today + timedelta(days=40))
    late = make_assessment(app, people, "Late Co", today - timedelta(days=3))
    make_assessment(app, people, "Done Co", today - timedelta(days=30), approve=True)
    sign_in(client, "auditor")
    html = client.get("/").get_data(as_text=True)
    assert html.index("Late Co") < html.index("Later Co")
    assert "1 overdue." in html
    section = html[html.index('id="my-work"') : html.index('id="audits-due"')]
    assert "Done Co" not in section  # approved work is not open
    assert f"/assessments/{late}" in section and f"/assessments/{later}" in section


def test_dashboard_counts_subcontractors_by_current_rating(client, app, people):
    make_assessment(app, people, "Good Co", date.today(), approve=True)
    make_assessment(
        app,
        people,
        "Weak Co",
        date.today(),
        approve=True,
        answers={"SO-3.1": ("non_compliant", "no contract")},
    )
    sign_in(client, "viewer")
    html = client.get("/").get_data(as_text=True)
    stats = html[html.index('class="stats"') : html.index('id="my-work"')]
    assert 'rating=A"' in stats and 'rating=D"' in stats
    import re

    pattern = r'rating-([A-E])" title="Rating [A-E]">[A-E]</span> <strong>(\d+)'
    counts = dict(re.findall(pattern, stats))
    assert counts == {"A": "1", "B": "0", "C": "0", "D": "1", "E": "0"}


def test_dashboard_shows_recent_activity_and_audits_due(client, app, people):
    with app.app_context():
        admin = db.session.get(User, people["admin"])
        factories.subcontractor(
            db.session, admin, "Never Audited K.K.", contract_start=date(2020, 1, 1)
        )
    sign_in(client, "auditor")
    html = client.get("/").get_data(as_text=True)
    due = html[html.index('id="audits-due"') : html.index('id="activity"')]
    assert "Never Audited K.K." in due and "overdue" in due
    activity = html[html.index('id="activity"') :]
    assert "subcontractor created" in activity


def test_admin_manages_users(client, app, people):
    sign_in(client, "admin")
    token = csrf_token(client, "/admin/users")
    short = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "new@example.com",
            "name": "New",
            "role": "auditor",
            "password": "short",
        },
    )
    assert short.status_code == 422
    assert "The password needs at least 12 characters." in short.get_data(as_text=True)
    dup = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "auditor@example.com",
            "name": "Dup",
            "role": "auditor",
            "password": "long enough password",
        },
    )
    assert dup.status_code == 409 and "already exists" in dup.get_data(as_text=True)
    ok = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "new@example.com",
            "name": "New",
            "role": "viewer",
            "password": "long enough password",
        },
    )
    assert ok.status_code == 302
    with app.app_context():
        new = db.session.exec(select(User).where(User.email == "new@example.com")).one()
    changed = client.post(f"/admin/users/{new.id}", data={"csrf_token": token, "role": "reviewer"})
    assert changed.status_code == 302
    with app.app_context():
        new = db.session.get(User, new.id)
    assert new.role == "reviewer" and new.active is False  # unchecked box = inactive
    own = client.post(
        f"/admin/users/{people['admin']}",
        data={"csrf_token": token, "role": "viewer", "active": "y"},
    )
    assert own.status_code == 302
    with app.app_context():
        assert db.session.get(User, people["admin"]).role == "admin"
    assert "cannot remove your own admin access" in client.get("/admin/users").get_data(
        as_text=True
    )


@pytest.mark.parametrize("who", ["auditor", "reviewer", "viewer"])
def test_only_admins_manage_users(client, people, who):
    sign_in(client, who)
    assert client.get("/admin/users").status_code == 403
    token = csrf_token(client, "/")
    response = client.post(
        f"/admin/users/{people['viewer']}",
        data={"csrf_token": token, "role": "admin", "active": "y"},
    )
    assert response.status_code == 403


def test_assessment_list_filters_and_paginates(client, app, people):
    app.config["PAGE_SIZE"] = 2
    for n in range(3):
        make_assessment(app, people, f"Filter Co {n}", date.today())
    make_assessment(app, people, "Approved Co", date.today(), approve=True)
    sign_in(client, "auditor")
    first = client.get("/assessments/").get_data(as_text=True)
    assert "Page 1 of 2" in first
    approved = client.get("/assessments/?state=approved").get_data(as_text=True)
    assert "Approved Co" in approved and "Filter Co 0" not in approved
    found = client.get("/assessments/?q=filter+co+2").get_data(as_text=True)
    assert "Filter Co 2" in found and "Filter Co 1" not in found
    with app.app_context():
        assert len(db.session.exec(select(Assessment)).all()) == 4
