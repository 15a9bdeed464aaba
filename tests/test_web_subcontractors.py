"""Subcontractor pages, the audit cadence and the audit schedule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from markupsafe import escape
from sqlmodel import func, select

from audit.extensions import db
from audit.models import AuditEvent, Subcontractor, User
from audit.services import assessments
from audit.services.assessments import AnswerInput
from audit.services.subcontractors import chain, register
from audit.services.subcontractors import schedule as svc
from audit.services.visibility import UNLIMITED
from tests import factories
from tests.conftest import csrf_token

NOW = datetime.now(UTC)


# ------------------------------------------------------------------------------ helpers


ROLES = ("admin", "auditor", "auditor2", "reviewer", "viewer")


@pytest.fixture
def data(app):
    """``with data() as (session, people):`` a short app context for setting up or checking.

    Requests must run outside it: the test client reuses a pushed app context, and with it
    ``g`` (the signed-in user, the CSRF token), which would hide what a browser sees.
    """
    with app.app_context():
        factories.team(db.session)

    @contextmanager
    def open_context() -> Iterator[tuple]:
        with app.app_context():
            session = db.session
            found = {
                role: session.exec(select(User).where(User.email == f"{role}@example.com")).one()
                for role in ROLES
            }
            yield session, factories.Team(**found)

    return open_context


@pytest.fixture
def signed_in(client, auth, data):
    """Sign in as a role: ``signed_in("auditor")``."""

    def sign_in(role: str = "auditor"):
        assert auth.login(f"{role}@example.com").status_code == 302
        return client

    return sign_in


def company(session, people, name, **fields):
    return factories.subcontractor(session, people.admin, name, **fields)


def approve(session, people, subcontractor, when=None, non_compliant=()):
    """An assessment taken through the real workflow to approval, optionally back-dated."""
    made = factories.assessment(session, people, company=subcontractor)
    checklist = assessments.definition(session, made)
    inputs = [
        AnswerInput(item.ref, "non_compliant", "gap")
        if item.ref in non_compliant
        else AnswerInput(item.ref, "compliant")
        for item in checklist.items()
    ]
    assessments.save_answers(session, people.auditor, made, inputs, made.revision)
    assessments.submit(session, people.auditor, made, made.revision)
    assessments.approve(session, people.reviewer, made, made.revision)
    if when is not None:
        made.approved_at = when
        session.add(made)
    session.commit()
    return made


def parent_options(body: str) -> list[str]:
    """Ids offered in the parent select of the form."""
    select_html = body.split('id="parent_id"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option[^>]*value="(\d+)"', select_html)


def names_in(body: str) -> list[str]:
    """Subcontractor names linked from the list table, in page order."""
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<th scope="row"><a href="/subcontractors/\d+">([^<]+)</a></th>', table)


def form_data(client, path, **fields):
    data = {
        "csrf_token": csrf_token(client, path),
        "name": "Kumo Hosting K.K.",
        "country": "jp",
        "tier": "2",
        "parent_id": "",
        "services": "Managed hosting",
        "data_categories": "personal data, logs\nauthentication data",
        "contract_start": "2024-04-01",
        "contract_end": "",
        "audit_cadence_months": "",
        "contact_email": "sec@kumo.example",
        "notes": "",
    }
    data.update(fields)
    return data


# ------------------------------------------------------------------------------ the list


def test_list_shows_parent_latest_rating_and_due_dates(data, loaded_checklists, signed_in):
    with data() as (session, people):
        top = company(session, people, "Aozora Cloud")
        company(session, people, "Hanul Secure", parent_id=top.id, country="KR")
        approve(session, people, top, when=datetime(2020, 1, 10, 3, tzinfo=UTC))
        approve(
            session,
            people,
            top,
            when=datetime(2021, 2, 10, 3, tzinfo=UTC),
            non_compliant={"SO-3.1"},
        )
    body = signed_in("viewer").get("/subcontractors/").get_data(as_text=True)
    assert names_in(body) == ["Aozora Cloud", "Hanul Secure"]
    top_row = body.split("Aozora Cloud</a></th>", 1)[1].split("</tr>", 1)[0]
    assert "rating-D" in top_row  # the latest approval (2021, D), not the older A
    assert "2021-02-10" in top_row and "2022-02-10" in top_row  # tier 1: 12 months
    assert "badge-overdue" in top_row
    child_row = body.split("Hanul Secure</a></th>", 1)[1].split("</tr>", 1)[0]
    assert f'<a href="/subcontractors/{top.id}">Aozora Cloud</a>' in child_row  # the parent
    assert "never" in child_row and "rating-none" in child_row


def test_search_is_case_insensitive_on_name_and_services(data, signed_in):
    with data() as (session, people):
        company(session, people, "Aozora Cloud", services="Server operations")
        company(session, people, "Sakura Contact", services="Call CENTER in Osaka")
        company(session, people, "Pacific Payroll", services="payroll")
        company(session, people, "100% Managed", services="")
    client = signed_in()
    assert names_in(client.get("/subcontractors/?q=aozora").get_data(as_text=True)) == [
        "Aozora Cloud"
    ]
    assert names_in(client.get("/subcontractors/?q=center").get_data(as_text=True)) == [
        "Sakura Contact"
    ]
    assert names_in(client.get("/subcontractors/?q=%25").get_data(as_text=True)) == [
        "100% Managed"
    ]  # % is a character to find, not a wildcard
    page = client.get("/subcontractors/?q=PAY").get_data(as_text=True)
    assert names_in(page) == ["Pacific Payroll"]
    assert 'name="q" value="PAY"' in page  # the search is kept in the form


@pytest.fixture
def spread(data, loaded_checklists):
    """Four companies across tiers, countries, ratings and due dates."""
    with data() as (session, people):
        a = company(session, people, "Alpha", tier=1, country="JP")
        b = company(session, people, "Bravo", tier=2, country="KR")
        c = company(session, people, "Charlie", tier=3, country="SG")
        company(
            session,
            people,
            "Delta",
            tier=3,
            country="JP",
            contract_start=NOW.date() + timedelta(days=30),
        )
        approve(session, people, a, when=NOW - timedelta(days=30))  # A, due in 11 months
        approve(
            session, people, b, when=datetime(2019, 5, 1, 3, tzinfo=UTC), non_compliant={"SO-3.1"}
        )
        approve(session, people, c, when=NOW - timedelta(days=400))  # tier 3: 36 months


#: each filter alone and combined, over the companies of ``spread``: (query, names listed)
FILTER_CASES = [
    ("", ["Alpha", "Bravo", "Charlie", "Delta"]),
    ("tier=1", ["Alpha"]),
    ("tier=3", ["Charlie", "Delta"]),
    ("country=jp", ["Alpha", "Delta"]),
    ("country=KR", ["Bravo"]),
    ("rating=A", ["Alpha", "Charlie"]),
    ("rating=d", ["Bravo"]),
    ("rating=none", ["Delta"]),
    ("rating=E", []),
    ("overdue=1", ["Bravo"]),
    ("tier=3&country=SG&rating=A", ["Charlie"]),
    ("q=a&overdue=1&rating=D&tier=2&country=KR", ["Bravo"]),
]


def test_each_filter(spread, signed_in):
    """Every case on one set-up (it approves three assessments), each mismatch reported."""
    client = signed_in()
    wrong = []
    for query, expected in FILTER_CASES:
        body = client.get(f"/subcontractors/?{query}").get_data(as_text=True)
        if names_in(body) != expected or "Filter ignored" in body:
            wrong.append(f"?{query}: {names_in(body)}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_filters_keep_their_values_in_the_form(spread, signed_in):
    body = signed_in().get("/subcontractors/?tier=3&country=SG&rating=none&overdue=1")
    body = body.get_data(as_text=True)
    assert '<option value="3" selected>' in body
    assert '<option value="SG" selected>' in body
    assert '<option value="none" selected>' in body
    assert 'name="overdue" value="1" checked' in body
    assert "No subcontractor matches these filters." in body


#: filter values that cannot be used: (query, the note shown, or None for a bad page number)
BAD_FILTER_CASES = [
    ("tier=9", "tier &#39;9&#39; is not 1, 2 or 3"),
    ("tier=x", "tier &#39;x&#39; is not 1, 2 or 3"),
    ("rating=Z", "rating &#39;Z&#39; is not A to E or none"),
    ("country=JPN", "country &#39;JPN&#39; is not a two-letter code"),
    ("overdue=maybe", "overdue &#39;maybe&#39; is not 1"),
    ("page=-3", None),
    ("page=abc", None),
    ("page=99", None),
]


def test_bad_filter_values_are_ignored_with_a_note(spread, signed_in):
    client = signed_in()
    wrong = []
    for query, note in BAD_FILTER_CASES:
        response = client.get(f"/subcontractors/?{query}")
        body = response.get_data(as_text=True)
        expected = [] if query == "page=99" else ["Alpha", "Bravo", "Charlie", "Delta"]
        if response.status_code != 200 or names_in(body) != expected:
            wrong.append(f"?{query}: {response.status_code} {names_in(body)}, expected {expected}")
        if query == "page=99" and "Nothing on this page" not in body:
            wrong.append("?page=99: no 'Nothing on this page'")
        if note and "Filter ignored: " + note not in body:
            wrong.append(f"?{query}: no note 'Filter ignored: {note}'")
    assert not wrong, "\n".join(wrong)


def test_pagination_keeps_filters(app, data, signed_in):
    app.config["PAGE_SIZE"] = 5
    with data() as (session, people):
        for n in range(12):
            company(session, people, f"Company {n:02d}", tier=1 if n % 2 else 2)
    client = signed_in()
    first = client.get("/subcontractors/").get_data(as_text=True)
    assert names_in(first) == [f"Company {n:02d}" for n in range(5)]
    assert "Page 1 of 3 · 12 in all" in first
    second = client.get("/subcontractors/?page=2").get_data(as_text=True)
    assert names_in(second) == [f"Company {n:02d}" for n in range(5, 10)]
    assert "Page 2 of 3" in second
    third = client.get("/subcontractors/?page=3").get_data(as_text=True)
    assert names_in(third) == ["Company 10", "Company 11"]
    filtered = client.get("/subcontractors/?tier=1&page=2").get_data(as_text=True)
    assert names_in(filtered) == ["Company 11"]
    assert 'href="/subcontractors/?tier=1&amp;page=1"' in filtered


def _grow_directory(data, first, last, approved_every):
    """Companies ``first``..``last - 1``, each entrusted by the one before; some approved."""
    with data() as (session, people):
        previous = session.exec(
            select(Subcontractor).where(Subcontractor.name == f"Company {first - 1:02d}")
        ).first()
        for n in range(first, last):
            made = company(
                session,
                people,
                f"Company {n:02d}",
                tier=n % 3 + 1,
                parent_id=previous.id if previous and n % 4 else None,
            )
            if n % approved_every == 0:
                approve(session, people, made, when=NOW - timedelta(days=200 * (n % 5)))
            previous = made


def _list_queries(client, count_queries, query=""):
    with count_queries() as statements:
        response = client.get(f"/subcontractors/{query}")
    assert response.status_code == 200
    return len(statements)


def test_list_query_count_does_not_grow_with_rows(
    data, loaded_checklists, signed_in, count_queries
):
    client = signed_in()
    filtered = "?overdue=1&rating=A&q=comp&tier=1&country=JP"
    _grow_directory(data, 0, 3, approved_every=2)
    small = _list_queries(client, count_queries)
    small_filtered = _list_queries(client, count_queries, filtered)
    _grow_directory(data, 3, 30, approved_every=5)
    assert _list_queries(client, count_queries) == small
    assert _list_queries(client, count_queries, filtered) == small_filtered
    assert small <= 5  # the user, the row count, the page, the country list


# ------------------------------------------------------------------------------ create and edit


def test_create_then_redirect_to_the_profile(data, signed_in):
    client = signed_in("auditor")
    with data() as (session, people):
        top = company(session, people, "Aozora Cloud")
    fields = form_data(
        client, "/subcontractors/new", parent_id=str(top.id), audit_cadence_months="6"
    )
    response = client.post("/subcontractors/new", data=fields)
    assert response.status_code == 302
    with data() as (session, _):
        made = session.exec(
            select(Subcontractor).where(Subcontractor.name == "Kumo Hosting K.K.")
        ).one()
        actions = session.exec(select(AuditEvent.action)).all()
    assert response.headers["Location"] == f"/subcontractors/{made.id}"
    assert (made.country, made.tier, made.parent_id) == ("JP", 2, top.id)
    assert made.data_categories == ["personal data", "logs", "authentication data"]
    assert made.contract_start == date(2024, 4, 1) and made.contract_end is None
    assert made.audit_cadence_months == 6 and made.cadence_months == 6
    assert made.contact_email == "sec@kumo.example"
    assert actions.count("subcontractor.created") == 2
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Kumo Hosting K.K. added." in page
    assert "every 6 months" in page


def test_new_form_lists_parents_and_defaults(data, signed_in):
    with data() as (session, people):
        company(session, people, "Aozora Cloud")
    body = signed_in("admin").get("/subcontractors/new").get_data(as_text=True)
    assert ">Aozora Cloud</option>" in body
    assert "tier 1: 12, tier 2: 24, tier 3: 36 months" in body
    assert '<form class="card" method="post" novalidate>' in body


def test_edit_changes_fields(data, signed_in):
    client = signed_in("admin")
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud", data_categories=["a", "b"])
    page = client.get(f"/subcontractors/{made.id}/edit").get_data(as_text=True)
    assert 'value="Aozora Cloud"' in page
    assert "a\nb</textarea>" in page
    fields = form_data(
        client,
        f"/subcontractors/{made.id}/edit",
        name="Aozora Cloud Ops",
        tier="3",
        contract_end="2027-03-31",
        data_categories="x",
    )
    response = client.post(f"/subcontractors/{made.id}/edit", data=fields)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/subcontractors/{made.id}"
    with data() as (session, _):
        stored = session.get(Subcontractor, made.id)
        actions = session.exec(select(AuditEvent.action)).all()
    assert (stored.name, stored.tier, stored.contract_end) == (
        "Aozora Cloud Ops",
        3,
        date(2027, 3, 31),
    )
    assert stored.data_categories == ["x"] and stored.updated_at is not None
    assert "subcontractor.updated" in actions
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Aozora Cloud Ops saved." in page


def count(data, model=Subcontractor) -> int:
    with data() as (session, _):
        return session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "The legal name is required."),
        ({"name": "x" * 201}, "The legal name is over 200 characters."),
        ({"name": "Existing Co"}, "A subcontractor named &#39;Existing Co&#39; already exists."),
        ({"country": "Japan"}, "Country must be a two-letter ISO 3166 code"),
        ({"tier": "9"}, "Tier must be 1, 2 or 3."),
        ({"tier": "one"}, "Tier must be 1, 2 or 3."),
        ({"parent_id": "9999"}, "No subcontractor 9999."),
        ({"parent_id": "abc"}, "No subcontractor -1."),
        ({"contract_start": "2024-13-01"}, "Not a valid date value."),
        ({"contract_end": "2024-01-01"}, "The contract ends before it starts."),
        ({"audit_cadence_months": "0"}, "Audit cadence must be 1 to 60 months."),
        ({"audit_cadence_months": "61"}, "Audit cadence must be 1 to 60 months."),
        ({"audit_cadence_months": "twelve"}, "Not a valid integer value."),
        ({"contact_email": "not-an-address"}, "is not a valid e-mail address."),
    ],
)
def test_bad_input_is_re_rendered_and_nothing_saved(data, signed_in, fields, message):
    with data() as (session, people):
        company(session, people, "Existing Co")
    client = signed_in("auditor")
    before = (count(data), count(data, AuditEvent))
    response = client.post(
        "/subcontractors/new", data=form_data(client, "/subcontractors/new", **fields)
    )
    # the service's decision: 422 for input to correct, 409 for a name another record holds
    assert response.status_code == (409 if fields.get("name") == "Existing Co" else 422)
    body = response.get_data(as_text=True)
    assert message in body
    assert 'class="field-error"' in body
    assert "Nothing was saved" in body
    assert "Managed hosting</textarea>" in body  # what was typed is kept
    if "contact_email" not in fields:
        assert 'value="sec@kumo.example"' in body
    assert (count(data), count(data, AuditEvent)) == before


def test_bad_edit_leaves_the_stored_row_alone(data, signed_in):
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud", country="JP")
    client = signed_in("auditor")
    fields = form_data(client, f"/subcontractors/{made.id}/edit", name="Renamed", country="J")
    response = client.post(f"/subcontractors/{made.id}/edit", data=fields)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="Renamed"' in body and 'value="J"' in body
    assert "<title>Edit Aozora Cloud" in body
    with data() as (session, _):
        stored = session.get(Subcontractor, made.id)
    assert (stored.name, stored.country, stored.updated_at) == ("Aozora Cloud", "JP", None)


def test_a_parent_loop_is_refused(data, signed_in):
    with data() as (session, people):
        top = company(session, people, "Top")
        middle = company(session, people, "Middle", parent_id=top.id)
        bottom = company(session, people, "Bottom", parent_id=middle.id)
        other = company(session, people, "Other")
    client = signed_in("auditor")
    page = client.get(f"/subcontractors/{top.id}/edit").get_data(as_text=True)
    assert parent_options(page) == [str(other.id)]  # neither itself nor anything below it
    page = client.get(f"/subcontractors/{bottom.id}/edit").get_data(as_text=True)
    assert set(parent_options(page)) == {str(top.id), str(middle.id), str(other.id)}
    for parent in (bottom, middle):
        fields = form_data(
            client, f"/subcontractors/{top.id}/edit", name="Top", parent_id=str(parent.id)
        )
        response = client.post(f"/subcontractors/{top.id}/edit", data=fields)
        assert response.status_code == 422
        assert "That parent would make the chain a loop." in response.get_data(as_text=True)
    fields = form_data(client, f"/subcontractors/{top.id}/edit", name="Top", parent_id=str(top.id))
    response = client.post(f"/subcontractors/{top.id}/edit", data=fields)
    assert response.status_code == 422
    assert "That parent would make the chain a loop." in response.get_data(as_text=True)
    with data() as (session, _):
        assert session.get(Subcontractor, top.id).parent_id is None


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_only_auditors_and_admins_manage(data, signed_in, role):
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud")
    client = signed_in(role)
    assert client.get("/subcontractors/new").status_code == 403
    assert client.get(f"/subcontractors/{made.id}/edit").status_code == 403
    token = csrf_token(client, "/subcontractors/")
    response = client.post(
        "/subcontractors/new", data={"csrf_token": token, "name": "X", "country": "JP", "tier": "1"}
    )
    assert response.status_code == 403
    response = client.post(
        f"/subcontractors/{made.id}/edit", data={"csrf_token": token, "name": "X"}
    )
    assert response.status_code == 403
    assert count(data) == 1
    list_page = client.get("/subcontractors/").get_data(as_text=True)
    assert "Add a subcontractor" not in list_page
    detail = client.get(f"/subcontractors/{made.id}")
    assert detail.status_code == 200
    assert f"/subcontractors/{made.id}/edit" not in detail.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(data, client):
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud")
    for path in (
        "/subcontractors/",
        f"/subcontractors/{made.id}",
        "/subcontractors/new",
        f"/subcontractors/{made.id}/edit",
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/auth/login")


def test_posting_without_csrf_token_is_refused(data, signed_in):
    client = signed_in("admin")
    response = client.post("/subcontractors/new", data={"name": "X", "country": "JP", "tier": "1"})
    assert response.status_code == 400
    assert count(data) == 0


def test_unknown_subcontractor_is_404(signed_in):
    client = signed_in("admin")
    assert client.get("/subcontractors/999").status_code == 404
    assert client.get("/subcontractors/999/edit").status_code == 404


# ------------------------------------------------------------------------------ the profile


def test_profile_shows_the_chain_both_ways(data, signed_in):
    with data() as (session, people):
        top = company(session, people, "Aozora Cloud")
        middle = company(session, people, "Hanul Secure", parent_id=top.id, country="KR")
        bottom = company(session, people, "Mirae Endpoint", parent_id=middle.id, tier=2)
        sibling = company(session, people, "Busan Backup", parent_id=middle.id, tier=3)
        company(session, people, "Unrelated")
    client = signed_in("viewer")

    body = client.get(f"/subcontractors/{bottom.id}").get_data(as_text=True)
    crumbs = body.split('aria-label="Re-entrustment chain"', 1)[1].split("</nav>", 1)[0]
    assert (
        crumbs.index("Aozora Cloud") < crumbs.index("Hanul Secure") < crumbs.index("Mirae Endpoint")
    )
    assert f'href="/subcontractors/{top.id}"' in crumbs
    assert "entrusts this work to no one else" in body

    body = client.get(f"/subcontractors/{top.id}").get_data(as_text=True)
    tree = body.split('<ul class="tree">', 1)[1].split("</section>", 1)[0]
    assert "Unrelated" not in tree
    nested = re.sub(r"\s+", " ", tree)
    # the sub-subcontractors sit in a list nested inside Hanul Secure's item, sorted by name
    assert re.search(
        rf'Hanul Secure</a>.*?<ul>.*?/subcontractors/{sibling.id}">Busan Backup</a>.*?'
        rf'/subcontractors/{bottom.id}">Mirae Endpoint</a>.*?</ul>',
        nested,
    )
    assert "us, directly" in body


def test_profile_shows_history_and_score_trend(data, loaded_checklists, signed_in):
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud", tier=2, audit_cadence_months=6)
        first = approve(session, people, made, when=datetime(2023, 1, 31, 3, tzinfo=UTC))
        second = approve(
            session,
            people,
            made,
            when=datetime(2023, 8, 31, 3, tzinfo=UTC),
            non_compliant={"SO-3.1"},
        )
        draft = factories.assessment(session, people, company=made, title="Spring 2024 review")
    body = signed_in("viewer").get(f"/subcontractors/{made.id}").get_data(as_text=True)
    history = body.split("<h2>Assessments</h2>", 1)[1]
    links = re.findall(r'href="/assessments/(\d+)"', history)
    assert links == [str(draft.id), str(second.id), str(first.id)]  # newest first
    assert "Spring 2024 review" in history
    assert "2023-01-31" in history and "2023-08-31" in history
    assert "Subcontractor oversight" in history or "1.0.0" in history
    assert "every 6 months" in body and "own cadence; tier 2 default is 24" in body
    assert "2024-02-29" in body  # 2023-08-31 + 6 months, clamped to the month end
    assert "badge-overdue" in body
    assert 'class="rating rating-D"' in history and 'class="rating rating-A"' in history
    svg = body.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<circle") == 2 and "<polyline" in svg
    assert "Approved scores, oldest first: 100.0 (A), " in svg
    assert escape(made.name) in body


def test_profile_of_a_never_audited_subcontractor(data, signed_in):
    with data() as (session, people):
        made = company(session, people, "Aozora Cloud", contract_start=date(2022, 4, 1))
    body = signed_in("viewer").get(f"/subcontractors/{made.id}").get_data(as_text=True)
    assert "never audited" in body and "2022-04-01" in body and "badge-overdue" in body
    assert "<svg" not in body
    assert "No assessment yet." in body


# ------------------------------------------------------------------------------ cadence (pure)


@pytest.mark.parametrize(
    ("last", "start", "months", "due"),
    [
        (date(2024, 3, 15), date(2020, 1, 1), 12, date(2025, 3, 15)),
        (date(2024, 1, 31), date(2020, 1, 1), 1, date(2024, 2, 29)),  # leap-year month end
        (date(2023, 1, 31), date(2020, 1, 1), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), date(2020, 1, 1), 12, date(2025, 2, 28)),
        (date(2024, 8, 31), date(2020, 1, 1), 6, date(2025, 2, 28)),
        (date(2024, 5, 31), date(2020, 1, 1), 4, date(2024, 9, 30)),
        (date(2024, 11, 30), date(2020, 1, 1), 3, date(2025, 2, 28)),
        (date(2024, 12, 15), date(2020, 1, 1), 24, date(2026, 12, 15)),
        (date(2024, 1, 1), date(2020, 1, 1), 60, date(2029, 1, 1)),
        (None, date(2021, 4, 1), 12, date(2021, 4, 1)),  # never approved: due from the start
        (None, date(2030, 1, 1), 36, date(2030, 1, 1)),
    ],
)
def test_next_audit_due(last, start, months, due):
    assert svc.next_audit_due(last, start, months) == due


def test_add_months_goes_both_ways():
    assert svc.add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert svc.add_months(date(2024, 1, 15), -13) == date(2022, 12, 15)
    assert svc.add_months(date(2024, 12, 31), 2) == date(2025, 2, 28)


@pytest.mark.parametrize("months", [1, 6, 12, 13, 24, 36, 60])
@pytest.mark.parametrize(
    "cutoff", [date(2025, 3, 31), date(2025, 3, 1), date(2024, 2, 29), date(2025, 12, 31)]
)
def test_sql_threshold_is_exact(months, cutoff):
    threshold = svc.earliest_approval_due_on_or_after(cutoff, months)
    for offset in range(-40, 41):
        day = threshold + timedelta(days=offset)
        assert (svc.add_months(day, months) < cutoff) == (day < threshold)


@pytest.mark.parametrize(
    ("tier", "own", "cadence"),
    [(1, None, 12), (2, None, 24), (3, None, 36), (3, 6, 6), (1, 24, 24)],
)
def test_own_cadence_wins_over_the_tier_default(tier, own, cadence):
    sub = Subcontractor(
        name="x", country="JP", tier=tier, audit_cadence_months=own, contract_start=date(2020, 1, 1)
    )
    row = svc.schedule_row(sub, datetime(2024, 1, 31, 12, tzinfo=UTC), "B", date(2024, 6, 1), "UTC")
    assert row.cadence_months == cadence
    assert row.next_due == svc.add_months(date(2024, 1, 31), cadence)
    assert row.last_approved == date(2024, 1, 31) and row.rating == "B"


def test_never_approved_is_due_from_contract_start_or_creation():
    created = datetime(2024, 5, 20, 16, tzinfo=UTC)  # 2024-05-21 01:00 in Tokyo
    with_start = Subcontractor(
        name="x", country="JP", tier=1, contract_start=date(2023, 4, 1), created_at=created
    )
    without = Subcontractor(name="y", country="JP", tier=1, created_at=created)
    today = date(2024, 5, 21)
    assert svc.schedule_row(with_start, None, None, today, "UTC").next_due == date(2023, 4, 1)
    row = svc.schedule_row(without, None, None, today, "Asia/Tokyo")
    assert (row.next_due, row.overdue, row.last_approved) == (date(2024, 5, 21), False, None)
    assert svc.schedule_row(without, None, None, today, "UTC").overdue


def test_approval_date_is_taken_in_the_local_zone():
    sub = Subcontractor(name="x", country="JP", tier=1)
    late = datetime(2024, 1, 31, 20, tzinfo=UTC)  # 1 February in Tokyo
    assert svc.schedule_row(sub, late, "A", date(2024, 2, 1), "UTC").next_due == date(2025, 1, 31)
    assert svc.schedule_row(sub, late, "A", date(2024, 2, 1), "Asia/Tokyo").next_due == date(
        2025, 2, 1
    )


# ------------------------------------------------------------------------------ audit schedule


@pytest.fixture
def schedule_data(session, loaded_checklists):
    people = factories.team(session)
    today = date(2025, 6, 15)
    made = {}
    # next due: last approval + cadence, or the contract start when never approved
    for name, tier, approved, start in (
        ("Due soon", 1, date(2024, 7, 1), None),  # 2025-07-01, in 16 days
        ("Due later", 1, date(2024, 9, 1), None),  # 2025-09-01, outside 30 days
        ("Long overdue", 2, date(2022, 1, 10), None),  # 2024-01-10
        ("Just overdue", 1, date(2024, 6, 14), None),  # 2025-06-14, yesterday
        ("Due today", 1, date(2024, 6, 15), None),  # 2025-06-15, due but not overdue
        ("Never audited", 3, None, date(2024, 12, 1)),  # 2024-12-01
        ("Starts later", 3, None, date(2025, 7, 10)),  # 2025-07-10, in 25 days
        ("Due in 30 days", 1, date(2024, 7, 15), None),  # 2025-07-15, the edge of the window
        ("Due in 31 days", 1, date(2024, 7, 16), None),
    ):
        made[name] = company(session, people, name, tier=tier, contract_start=start)
        if approved:
            approve(
                session,
                people,
                made[name],
                when=datetime.combine(approved, datetime.min.time(), UTC) + timedelta(hours=3),
            )
    return today, made


def test_audit_schedule_lists_overdue_first_then_by_due_date(session, schedule_data):
    today, made = schedule_data
    rows = svc.audit_schedule(session, today, tz="UTC", within=UNLIMITED)
    assert [r.subcontractor.name for r in rows] == [
        "Long overdue",
        "Never audited",
        "Just overdue",
        "Due today",
        "Due soon",
        "Starts later",
        "Due in 30 days",
    ]
    assert [r.overdue for r in rows] == [True, True, True, False, False, False, False]
    first = rows[0]
    assert isinstance(first, svc.ScheduleRow)
    assert (first.last_approved, first.next_due, first.rating) == (
        date(2022, 1, 10),
        date(2024, 1, 10),
        "A",
    )
    never = rows[1]
    assert (never.last_approved, never.rating, never.next_due) == (None, None, date(2024, 12, 1))
    with pytest.raises(AttributeError):
        first.overdue = False  # frozen


def test_audit_schedule_window_and_limit(session, schedule_data):
    today, made = schedule_data
    names = [
        r.subcontractor.name
        for r in svc.audit_schedule(session, today, within_days=0, tz="UTC", within=UNLIMITED)
    ]
    assert names == ["Long overdue", "Never audited", "Just overdue", "Due today"]
    limited = svc.audit_schedule(session, today, limit=2, tz="UTC", within=UNLIMITED)
    assert [r.subcontractor.name for r in limited] == ["Long overdue", "Never audited"]
    later = svc.audit_schedule(session, today, within_days=90, tz="UTC", within=UNLIMITED)
    assert "Due later" in [r.subcontractor.name for r in later]


def test_sql_overdue_filter_agrees_with_the_python_rule(session, schedule_data):
    today, _ = schedule_data
    statement = svc.directory_statement(svc.DirectoryFilters(), today, "UTC", within=UNLIMITED)
    everyone = svc.rows_from(session.exec(statement).all(), today, "UTC")
    statement = svc.directory_statement(
        svc.DirectoryFilters(overdue=True), today, "UTC", within=UNLIMITED
    )
    overdue = svc.rows_from(session.exec(statement).all(), today, "UTC")
    assert {r.subcontractor.id for r in overdue} == {
        r.subcontractor.id for r in everyone if r.overdue
    }
    assert len(overdue) == 3


def test_schedule_is_one_query(session, schedule_data, count_queries):
    today, _ = schedule_data
    with count_queries() as statements:
        svc.audit_schedule(session, today, tz="UTC", within=UNLIMITED)
    assert len(statements) == 1


def test_chain_ignores_an_unrelated_tree(session):
    people = factories.team(session)
    top = company(session, people, "Top")
    child = company(session, people, "Child", parent_id=top.id)
    grandchild = company(session, people, "Grandchild", parent_id=child.id)
    company(session, people, "Elsewhere")
    found = chain.chain(session, top.id, UNLIMITED)
    assert found.ancestors == []
    assert [n.name for n in found.descendants] == ["Child"]
    assert [n.name for n in found.descendants[0].children] == ["Grandchild"]
    assert found.descendant_ids() == {child.id, grandchild.id}
    assert [n.name for n in chain.chain(session, grandchild.id, UNLIMITED).ancestors] == [
        "Top",
        "Child",
    ]


def test_parse_categories():
    assert register.parse_categories("personal data, logs\n\n logs ,個人データ、通信") == [
        "personal data",
        "logs",
        "個人データ",
        "通信",
    ]
    assert register.parse_categories("") == []
