"""Browser fixtures: the real app on a local port, Debian's chromium, a page per test.

``live_server`` serves the application built on the per-test ``database_url`` (SQLite copy or
the worker's PostgreSQL test database, see ``tests/conftest.py``) from a background thread on a
free port, after loading the shipped checklists (copied from the session's published template)
and creating four people and one subcontractor. ``browser`` launches
``/usr/bin/chromium`` once per session (Playwright's own browser downloads are never used);
every test gets fresh browser contexts, and a failing test leaves full-page screenshots in
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, got_request_exception
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from audit import create_app
from audit.extensions import db
from audit.models import Assessment, User
from audit.services import assessments as svc
from audit.services import checklists, users
from audit.services.subcontractors import register as subcontractors
from tests import factories
from tests.conftest import DEMO_PASSWORD, ROOT, ChecklistTemplate

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000
SUBCONTRACTOR = "Aozora Cloud Operations K.K."
PEOPLE = (
    ("auditor@example.com", "auditor"),
    ("auditor2@example.com", "auditor"),
    ("reviewer@example.com", "reviewer"),
    ("admin@example.com", "admin"),
)


# ------------------------------------------------------------------------------ reports


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the item (``rep_setup``, ``rep_call``) for fixtures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(node: pytest.Item) -> bool:
    return any(
        getattr(getattr(node, f"rep_{when}", None), "failed", False) for when in ("setup", "call")
    )


# ------------------------------------------------------------------------------ the server


@dataclass
class Live:
    """The running application: its base URL, the Flask app (for the database), its ids."""

    url: str
    app: Flask
    users: dict[str, int]
    subcontractor_id: int
    errors: list[BaseException] = field(default_factory=list)

    def query(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(session)`` in a fresh app context: what is stored now, not what was cached."""
        with self.app.app_context():
            return fn(db.session)

    def answers(self, assessment_id: int) -> dict[str, tuple[str, str]]:
        """Stored answers as ``{ref: (status, comment)}``."""

        def read(session: Any) -> dict[str, tuple[str, str]]:
            assessment = session.get(Assessment, assessment_id)
            return {
                r: (a.status, a.comment) for r, a in svc.answers_by_ref(session, assessment).items()
            }

        return self.query(read)

    def assessment(self, assessment_id: int) -> dict[str, Any]:
        """The stored assessment's columns."""
        return self.query(lambda s: s.get(Assessment, assessment_id).model_dump())

    def make_assessment(self, **kw: Any) -> int:
        """A draft assessment on Subcontractor oversight 1.0.0, made through the service layer."""

        def make(session: Any) -> int:
            auditor = session.get(User, self.users["auditor@example.com"])
            made = svc.create(
                session,
                auditor,
                subcontractor_id=self.subcontractor_id,
                checklist_version_id=checklists.find_version(
                    session, "subcontractor-oversight", "1.0.0"
                ).id,
                auditor_ids=kw.pop("auditor_ids", [auditor.id]),
                reviewer_id=kw.pop("reviewer_id", self.users["reviewer@example.com"]),
                due_date=kw.pop("due_date", date(2031, 3, 31)),
                **kw,
            )
            session.commit()
            return made.id

        return self.query(make)


def _seed(app: Flask, template: ChecklistTemplate) -> tuple[dict[str, int], int]:
    with app.app_context():
        session = db.session
        # the checklists as publishing leaves them: the session's copy, else published now
        if not template.install(app.config["DATABASE_URL"]):
            checklists.load_paths(session, [ROOT / "checklists"])
        made = {
            email: users.create_user(
                session, email, DEMO_PASSWORD, role, hash_method=factories.FAST_HASH
            )
            for email, role in PEOPLE
        }
        session.commit()
        company = subcontractors.create(
            session, made["admin@example.com"], {"name": SUBCONTRACTOR, "country": "JP", "tier": 1}
        )
        session.commit()
        return {email: user.id for email, user in made.items()}, company.id


@pytest.fixture
def live(database_url: str, checklist_template: ChecklistTemplate) -> Iterator[Live]:
    """The seeded application served on 127.0.0.1 from a background thread."""
    app = create_app(
        {
            "TESTING": False,  # errors become 500 pages, as in production; recorded below
            "SECRET_KEY": "browser-test-secret-key",
            "DATABASE_URL": database_url,
            "CHECKLISTS_DIR": str(ROOT / "checklists"),
            "SEEDS_DIR": str(ROOT / "seeds"),
        }
    )
    people, company = _seed(app, checklist_template)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    live = Live(f"http://127.0.0.1:{server.server_port}", app, people, company)

    def record(sender: Flask, exception: BaseException, **extra: Any) -> None:
        live.errors.append(exception)

    got_request_exception.connect(record, app)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # shutdown() then waits 20 ms, not the default 0.5 s
        name="live-server",
        daemon=True,
    )
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
        db.engine_for(app).dispose()
    assert not live.errors, f"the server raised: {live.errors!r}"


@pytest.fixture
def live_server(live: Live) -> str:
    """The base URL of the running application."""
    return live.url


# ------------------------------------------------------------------------------ the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium): browser tests skipped"
        )
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ],
    )
    try:
        yield launched
    finally:
        launched.close()
        playwright.stop()


def _screenshot_name(test_name: str, n: int) -> str:
    # pytest-playwright, when installed, adds a "[chromium]" id to every test using ``browser``
    name = re.sub(r"\[chromium\]$", "", test_name)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
    return f"{safe}.png" if n == 0 else f"{safe}-{n + 1}.png"


@pytest.fixture
def new_page(browser: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Callable]:
    """Make a page in a fresh browser context (its own cookies); screenshots all on failure.

    Each page records the dialogs it raised in ``page.dialogs`` (``"type: message"``) and
    handles them as Playwright would without a listener: ``beforeunload`` accepted, the
    others dismissed.
    """
    contexts: list[Any] = []
    pages: list[Any] = []

    def make() -> Any:
        context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []

        def on_dialog(dialog: Any, page: Any = page) -> None:
            page.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.accept() if dialog.type == "beforeunload" else dialog.dismiss()

        page.on("dialog", on_dialog)
        pages.append(page)
        return page

    yield make
    if _failed(request.node):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for n, page in enumerate(pages):
            try:
                page.screenshot(
                    path=str(SCREENSHOTS / _screenshot_name(request.node.name, n)), full_page=True
                )
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"screenshot of page {n + 1} failed: {exc}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable) -> Any:
    return new_page()


# ------------------------------------------------------------------------------ page actions


def sign_in(page: Any, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/auth/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator(".topbar .who")).to_contain_text(email.split("@")[0])


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/auth/login$"))
    expect(page.locator(".flash")).to_contain_text("You have signed out.")
