"""The example client (examples/kansa_client.py) runs a whole audit against a live server.

The application is served by werkzeug from a thread on 127.0.0.1 (a free port) on this test's
database; the client runs as its own process, as an integrator would run it, with an auditor's,
a reviewer's and an admin's tokens. It must exit 0 having done and checked every step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from flask import got_request_exception
from sqlmodel import select
from werkzeug.serving import make_server

from audit import create_app
from audit.extensions import db
from audit.models import Assessment
from audit.services import tokens
from tests import factories
from tests.conftest import ROOT, app_config

CLIENT = ROOT / "examples" / "kansa_client.py"

pytestmark = pytest.mark.pdf  # the client fetches the PDF report


@pytest.fixture
def live(database_url: str, loaded_checklists) -> Iterator[dict]:
    """The app on a local port, with a team and a token per role; the server's errors kept."""
    app = create_app({**app_config(database_url), "TESTING": False})
    with app.app_context():
        people = factories.team(db.session)
        secrets = {
            role: tokens.create(db.session, getattr(people, role), name="example", scope=scope)[1]
            for role, scope in (("auditor", "write"), ("reviewer", "write"), ("admin", "admin"))
        }
        db.session.commit()
    errors: list[BaseException] = []

    def record(sender, exception, **extra) -> None:
        errors.append(exception)

    got_request_exception.connect(record, app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "tokens": secrets, "app": app}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(record, app)
        db.engine_for(app).dispose()
    assert not errors, f"the server raised: {errors!r}"


def run_client(live: dict, **overrides: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KANSA_URL": live["url"],
        "KANSA_AUDITOR_TOKEN": live["tokens"]["auditor"],
        "KANSA_REVIEWER_TOKEN": live["tokens"]["reviewer"],
        "KANSA_ADMIN_TOKEN": live["tokens"]["admin"],
        **overrides,
    }
    return subprocess.run(
        [sys.executable, str(CLIENT)], env=env, capture_output=True, text=True, timeout=180
    )


def test_the_example_client_runs_a_whole_audit(live):
    done = run_client(live)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in (
        "recorded subcontractor",
        "planned assessment",
        "answered",
        "uploaded evidence",
        "remediation planned",
        "submitted: submitted",
        "approved by the reviewer: approved",
        "bytes of PDF",
        "OSCAL assessment-results",
        "each matching its hash",
        "the whole audit trail verified",
        "audit complete",
    ):
        assert step in out, (step, out)
    with live["app"].app_context():
        states = db.session.exec(select(Assessment.state)).all()
    assert states == ["approved"]


def test_the_example_client_reports_a_refusal(live):
    """A token that is not valid: exit 1 with the API's JSON error, not a traceback."""
    done = run_client(live, KANSA_AUDITOR_TOKEN="kansa_not-a-token")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "GET /me answered 401" in done.stderr and "Traceback" not in done.stderr
