"""Load test: gunicorn + PostgreSQL under many concurrent clients, and no saved answer lost.

Run from the repository root (PostgreSQL listening on 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/load.py [--seconds 30] [--clients 24] [--workers 4]

What it does, all on this machine (127.0.0.1 only):

1. creates a fresh database (``--db``, default kansa_load; dropped at the end unless
   ``--keep-db``), runs the migrations and loads the checklists with the ``flask`` commands,
   then through the services creates one auditor per client, subcontractors, assessments
   (``--assessments``, several clients on each) and an API token per client;
2. starts ``gunicorn -w <workers> wsgi:app`` on a free port with DATABASE_URL, SECRET_KEY and
   KANSA_ENV=development, and samples every worker's peak RSS (VmHWM) from /proc;
3. for ``--seconds`` drives a mix of operations from ``--clients`` threads (http.client):
   sign-ins (GET the page, POST with its CSRF token), web saves of a section (GET the page,
   read its CSRF token, revision and every answer shown, POST the whole section back as a
   browser would), API answer writes (GET for the ETag, PATCH with If-Match), and report
   downloads (the page's /assessments/<id>/report.pdf and the API's);
4. checks that nothing saved was lost. Each client owns some items of its assessment (others
   write the other items of the same assessment, so conflicts are real) and writes a unique
   comment on every write. At the end, straight from the database:
   * each owned item holds the comment of the owner's last write that was answered 2xx/3xx;
   * every write answered as saved has its ``answer.saved`` audit event;
   * no write answered 409/412 (a refused conflict) left its comment anywhere;
   * the audit trail's hash chain verifies.

Prints a table per request and per operation (throughput, latency p50/p95/p99, status
classes, conflicts and 429s counted apart), the workers' peak RSS and the checks. Exits 1 on
any 5xx, transport error, unexpected status, lost or ghost answer, or broken chain.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"  # the only address this script ever sends to
PASSWORD = "load test passphrase 2026"
SLUG = "subcontractor-oversight"
DEFAULT_MIX = "signin=10,web_save=40,api_write=46,report_web=2,report_api=2"
OPERATIONS = ("signin", "web_save", "api_write", "report_web", "report_api")

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
SECTION_FORM = re.compile(r'<form method="post" id="section-form".*?</form>', re.S)
REVISION_INPUT = re.compile(r'name="revision" value="(\d+)"')


# ------------------------------------------------------------------------------ setup


def psql_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "PGHOST": args.pg_host,
        "PGPORT": str(args.pg_port),
        "PGUSER": args.pg_user,
    }


def database_url(args: argparse.Namespace) -> str:
    return f"postgresql+psycopg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.db}"


def create_database(args: argparse.Namespace) -> None:
    env = psql_env(args)
    subprocess.run(
        ["dropdb", "--if-exists", args.db], env=env, check=True, stderr=subprocess.DEVNULL
    )
    subprocess.run(["createdb", args.db], env=env, check=True)


def drop_database(args: argparse.Namespace) -> None:
    subprocess.run(["dropdb", "--if-exists", args.db], env=psql_env(args), check=False)


def app_env(args: argparse.Namespace, secret_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(args),
        "SECRET_KEY": secret_key,
        "KANSA_ENV": "development",
    }


@dataclass
class Client:
    index: int
    user_id: int
    email: str
    token: str
    assessment_id: int
    owned: dict[str, tuple[str, ...]]  # ref -> allowed answers
    sections: dict[str, list[str]]  # section ref -> every item ref in it (in order)


def populate(args: argparse.Namespace, secret_key: str) -> list[Client]:
    """Migrations and checklists through the CLI, then people and work through the services."""
    env = app_env(args, secret_key)
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    for command in (["db", "upgrade"], ["checklists", "load"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    from sqlmodel import select

    from audit import create_app
    from audit.extensions import db
    from audit.models import Checklist, ChecklistVersion
    from audit.services import assessments, checklists, subcontractors, tokens, users

    app = create_app({"DATABASE_URL": database_url(args), "SECRET_KEY": secret_key})
    made: list[Client] = []
    with app.app_context():
        session = db.session
        admin = users.create_user(session, "load-admin@example.com", PASSWORD, "admin")
        people = [
            users.create_user(session, f"load-auditor-{i:02d}@example.com", PASSWORD, "auditor")
            for i in range(args.clients)
        ]
        reviewer = users.create_user(session, "load-reviewer@example.com", PASSWORD, "reviewer")
        session.commit()
        version = session.exec(
            select(ChecklistVersion)
            .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
            .where(Checklist.slug == SLUG)
        ).first()
        definition = checklists.definition_for(version)
        items = list(definition.items())
        sections = {s.ref: [i.ref for i in s.items] for s in definition.sections}
        for a in range(args.assessments):
            members = [i for i in range(args.clients) if i % args.assessments == a]
            company = subcontractors.create(
                session,
                admin,
                {"name": f"Load Subcontractor {a:02d}", "country": "JP", "tier": 1 + a % 3},
            )
            session.flush()
            assessment = assessments.create(
                session,
                admin,
                subcontractor_id=company.id,
                checklist_version_id=version.id,
                auditor_ids=[people[i].id for i in members],
                reviewer_id=reviewer.id,
                title=f"Load assessment {a:02d}",
            )
            session.flush()
            for slot, i in enumerate(members):
                _, secret = tokens.create(session, people[i], name="load", scope="write")
                owned = {
                    item.ref: item.answers
                    for k, item in enumerate(items)
                    if k % len(members) == slot
                }
                made.append(
                    Client(i, people[i].id, people[i].email, secret, assessment.id, owned, sections)
                )
        session.commit()
    db.engine_for(app).dispose()
    return sorted(made, key=lambda c: c.index)


# ------------------------------------------------------------------------------ HTTP


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class Browser:
    """A cookie jar and a User-Agent over http.client (one connection per request)."""

    def __init__(self, port: int, name: str, timeout: float) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.user_agent = f"kansa-load/{name}"
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {
            "User-Agent": self.user_agent,
            "Host": f"{HOST}:{self.port}",
            "Connection": "close",
            **(headers or {}),
        }
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or (
                    morsel["expires"] and "1970" in morsel["expires"]
                )
                if expired or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Reply(response.status, response.headers, data)


# ------------------------------------------------------------------------------ figures


@dataclass
class Figures:
    """Latencies and status counts by request kind and by operation (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    ops: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    problems: list[str] = field(default_factory=list)

    def request(self, kind: str, status: int | None, seconds: float) -> None:
        with self.lock:
            self.requests[kind].append(seconds)
            self.statuses[kind][status_class(status)] += 1

    def operation(self, name: str, outcome: str, seconds: float) -> None:
        with self.lock:
            self.ops[name].append(seconds)
            self.outcomes[name][outcome] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.problems) < 200:
                self.problems.append(text)


def status_class(status: int | None) -> str:
    if status is None:
        return "err"
    if status in (409, 412):
        return "409/412"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# ------------------------------------------------------------------------------ the clients


@dataclass
class Ledger:
    """What one client saw: its successful and refused writes, in order."""

    saved: list[tuple[int, str, str]] = field(default_factory=list)  # (assessment, ref, comment)
    refused: list[tuple[int, str, str]] = field(default_factory=list)
    last: dict[tuple[int, str], str] = field(default_factory=dict)
    sequence: int = 0


class Worker(threading.Thread):
    def __init__(
        self,
        client: Client,
        port: int,
        deadline: float,
        mix: list[tuple[str, int]],
        figures: Figures,
        seed: int,
        timeout: float,
    ) -> None:
        super().__init__(name=f"client-{client.index:02d}", daemon=True)
        self.client = client
        self.port = port
        self.deadline = deadline
        self.mix = mix
        self.figures = figures
        self.random = random.Random(seed)
        self.timeout = timeout
        self.ledger = Ledger()
        self.browser = Browser(port, self.name, timeout)
        self.api = Browser(port, f"{self.name}-api", timeout)

    # one HTTP request, timed and counted
    def send(self, who: Browser, kind: str, method: str, path: str, **kw: Any) -> Reply | None:
        started = time.perf_counter()
        try:
            reply = who.request(method, path, **kw)
        except (OSError, http.client.HTTPException) as exc:
            self.figures.request(kind, None, time.perf_counter() - started)
            self.figures.problem(f"{kind}: {method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.figures.request(kind, reply.status, time.perf_counter() - started)
        if reply.status >= 500:
            self.figures.problem(f"{kind}: {method} {path} -> {reply.status}: {reply.body[:200]!r}")
        return reply

    def unexpected(self, kind: str, reply: Reply | None) -> str:
        if reply is not None and reply.status < 500:
            self.figures.problem(f"{kind}: unexpected {reply.status}: {reply.body[:200]!r}")
        return "error"

    def comment(self) -> str:
        self.ledger.sequence += 1
        return f"load c{self.client.index:02d} n{self.ledger.sequence:06d}"

    def run(self) -> None:
        names = [name for name, _ in self.mix]
        weights = [weight for _, weight in self.mix]
        started = time.perf_counter()
        outcome = self.sign_in()
        self.figures.operation("signin", outcome, time.perf_counter() - started)
        while time.monotonic() < self.deadline:
            name = self.random.choices(names, weights)[0]
            started = time.perf_counter()
            outcome = getattr(self, name)()
            self.figures.operation(name, outcome, time.perf_counter() - started)

    # ---------------------------------------------------------------- operations

    def signin(self) -> str:
        return self.sign_in()

    def sign_in(self) -> str:
        """A fresh browser signs in; it then carries this client's web session."""
        fresh = Browser(self.port, self.name, self.timeout)
        page = self.send(fresh, "signin: GET /auth/login", "GET", "/auth/login")
        if page is None or page.status != 200:
            return self.unexpected("signin GET", page)
        token = CSRF_INPUT.search(page.body.decode())
        form = urllib.parse.urlencode(
            {
                "csrf_token": token.group(1) if token else "",
                "email": self.client.email,
                "password": PASSWORD,
            }
        )
        reply = self.send(
            fresh,
            "signin: POST /auth/login",
            "POST",
            "/auth/login",
            body=form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if reply is None or reply.status != 302:
            if reply is not None and reply.status == 429:
                return "throttled"
            return self.unexpected("signin POST", reply)
        self.browser = fresh
        return "ok"

    def web_save(self) -> str:
        """GET a section page and POST the whole section back, own items changed."""
        c = self.client
        choices = [s for s, refs in c.sections.items() if any(r in c.owned for r in refs)]
        section = self.random.choice(choices)
        path = f"/assessments/{c.assessment_id}"
        page = self.send(
            self.browser, "web_save: GET section page", "GET", f"{path}?section={section}"
        )
        if page is None or page.status != 200:
            return self.unexpected("web_save GET", page)
        text = page.body.decode()
        form = SECTION_FORM.search(text)
        token = CSRF_INPUT.search(form.group(0)) if form else None
        revision = REVISION_INPUT.search(form.group(0)) if form else None
        if not (form and token and revision):
            self.figures.problem(f"web_save: no section form on {path}?section={section}")
            return "error"
        fields = [
            ("csrf_token", token.group(1)),
            ("revision", revision.group(1)),
            ("then", section),
        ]
        mine: list[tuple[str, str]] = []
        for ref in c.sections[section]:
            if ref in c.owned:
                comment = self.comment()
                fields += [
                    (f"answer-{ref}", self.random.choice(c.owned[ref])),
                    (f"comment-{ref}", comment),
                ]
                mine.append((ref, comment))
            else:  # what the page shows for the others' items, sent back unchanged
                checked = re.search(
                    rf'name="answer-{re.escape(ref)}" value="([^"]*)" checked', form.group(0)
                )
                shown = re.search(
                    rf'id="comment-{re.escape(ref)}"[^>]*>(.*?)</textarea>', form.group(0), re.S
                )
                fields += [
                    (f"answer-{ref}", checked.group(1) if checked else ""),
                    (f"comment-{ref}", html.unescape(shown.group(1)) if shown else ""),
                ]
        reply = self.send(
            self.browser,
            "web_save: POST section",
            "POST",
            f"{path}/sections/{section}",
            body=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self.settle(reply, mine, ok=(302,), conflict=(409,), kind="web_save POST")

    def api_write(self) -> str:
        """GET the answers for the ETag, PATCH one to three own items with If-Match."""
        c = self.client
        auth = {"Authorization": f"Bearer {c.token}"}
        path = f"/api/v1/assessments/{c.assessment_id}/answers"
        current = self.send(self.api, "api_write: GET answers", "GET", path, headers=auth)
        if current is None or current.status != 200:
            return self.unexpected("api_write GET", current)
        refs = self.random.sample(sorted(c.owned), k=min(len(c.owned), self.random.randint(1, 3)))
        mine = [(ref, self.comment()) for ref in refs]
        body = {
            "answers": [
                {"ref": ref, "status": self.random.choice(c.owned[ref]), "comment": comment}
                for ref, comment in mine
            ]
        }
        reply = self.send(
            self.api,
            "api_write: PATCH answers (If-Match)",
            "PATCH",
            path,
            body=json.dumps(body).encode(),
            headers={
                **auth,
                "Content-Type": "application/json",
                "If-Match": current.headers.get("ETag", ""),
            },
        )
        return self.settle(reply, mine, ok=(200,), conflict=(412,), kind="api_write PATCH")

    def settle(
        self,
        reply: Reply | None,
        mine: list[tuple[str, str]],
        *,
        ok: tuple[int, ...],
        conflict: tuple[int, ...],
        kind: str,
    ) -> str:
        aid = self.client.assessment_id
        if reply is not None and reply.status in ok:
            for ref, comment in mine:
                self.ledger.saved.append((aid, ref, comment))
                self.ledger.last[(aid, ref)] = comment
            return "ok"
        if reply is not None and reply.status in conflict:
            self.ledger.refused.extend((aid, ref, comment) for ref, comment in mine)
            return "conflict"
        # unknown fate (5xx, transport error): neither saved nor refused for the checks
        return self.unexpected(kind, reply)

    def report_web(self) -> str:
        reply = self.send(
            self.browser,
            "report_web: GET report.pdf (page)",
            "GET",
            f"/assessments/{self.client.assessment_id}/report.pdf",
        )
        if reply is not None and reply.status == 200 and reply.body.startswith(b"%PDF"):
            return "ok"
        return self.unexpected("report_web", reply)

    def report_api(self) -> str:
        reply = self.send(
            self.api,
            "report_api: GET report.pdf (API)",
            "GET",
            f"/api/v1/assessments/{self.client.assessment_id}/report.pdf",
            headers={"Authorization": f"Bearer {self.client.token}"},
        )
        if reply is not None and reply.status == 200 and reply.body.startswith(b"%PDF"):
            return "ok"
        return self.unexpected("report_api", reply)


# ------------------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_gunicorn(
    args: argparse.Namespace, secret_key: str, port: int, log: Path
) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "-w",
        str(args.workers),
        "-b",
        f"{HOST}:{port}",
        "--error-logfile",
        str(log),
        "wsgi:app",
    ]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=app_env(args, secret_key),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = Browser(port, "probe", 5)
    for _ in range(150):  # at most ~30 s
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            if probe.request("GET", "/auth/login").status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                values[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values


class MemorySampler(threading.Thread):
    """Peak RSS (VmHWM) of the gunicorn master and each worker, polled every half second."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(0.5)

    def sample(self) -> None:
        for pid in children(self.master):
            hwm = memory_kb(pid).get("VmHWM")
            if hwm:
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))


# ------------------------------------------------------------------------------ the checks


def verify(args: argparse.Namespace, secret_key: str, ledgers: list[Ledger]) -> list[str]:
    """Compare what the clients were told with what the database holds."""
    from sqlmodel import select

    from audit import create_app
    from audit.extensions import db
    from audit.models import Answer, AuditEvent, ChecklistItem
    from audit.services import events

    failures: list[str] = []
    app = create_app({"DATABASE_URL": database_url(args), "SECRET_KEY": secret_key})
    with app.app_context():
        session = db.session
        stored = {
            (aid, ref): comment
            for aid, ref, comment in session.exec(
                select(Answer.assessment_id, ChecklistItem.ref, Answer.comment).join(
                    ChecklistItem, ChecklistItem.id == Answer.item_id
                )
            ).all()
        }
        logged: set[tuple[str, str]] = set()
        for object_id, after in session.exec(
            select(AuditEvent.object_id, AuditEvent.after).where(
                AuditEvent.action == "answer.saved"
            )
        ).all():
            if after and after.get("comment"):
                logged.add((object_id, after["comment"]))
        saved = [entry for ledger in ledgers for entry in ledger.saved]
        lost = [
            (key, comment, stored.get(key))
            for ledger in ledgers
            for key, comment in ledger.last.items()
            if stored.get(key) != comment
        ]
        unlogged = [e for e in saved if (f"{e[0]}:{e[1]}", e[2]) not in logged]
        refused = {comment for ledger in ledgers for _, _, comment in ledger.refused}
        ghosts = sorted(
            {c for c in stored.values() if c in refused} | {c for _, c in logged if c in refused}
        )
        chain = events.verify(session)
    db.engine_for(app).dispose()
    print("\nChecks (from the database)")
    print(
        f"  writes answered as saved: {len(saved):,} item answers; refused as conflicts: "
        f"{sum(len(ledger.refused) for ledger in ledgers):,}"
    )
    print(f"  items whose stored comment is not their owner's last saved write (lost): {len(lost)}")
    print(f"  saved writes without their answer.saved audit event: {len(unlogged)}")
    print(f"  refused writes found in answers or audit events (ghosts): {len(ghosts)}")
    print(f"  audit chain: {'intact' if chain.ok else 'BROKEN'} ({chain.count:,} events)")
    if lost:
        failures.append(f"{len(lost)} lost answers, e.g. {lost[:3]}")
    if unlogged:
        failures.append(
            f"{len(unlogged)} saved writes missing from the audit trail, e.g. {unlogged[:3]}"
        )
    if ghosts:
        failures.append(f"{len(ghosts)} refused writes were stored, e.g. {ghosts[:3]}")
    if not chain.ok:
        failures.append(f"audit chain broken at event {chain.bad_id}: {chain.reason}")
    return failures


# ------------------------------------------------------------------------------ report


def print_tables(figures: Figures, seconds: float) -> None:
    columns = ["2xx", "3xx", "4xx", "409/412", "429", "5xx", "err"]
    print(f"\nRequests ({seconds:.1f} s of load)")
    head = f"  {'request':<40} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    print(head + "".join(f" {c:>7}" for c in columns))
    for kind in sorted(figures.requests):
        values = figures.requests[kind]
        row = (
            f"  {kind:<40} {len(values):>6} {len(values) / seconds:>7.1f} "
            f"{percentile(values, 50) * 1000:>8.1f} {percentile(values, 95) * 1000:>8.1f} "
            f"{percentile(values, 99) * 1000:>8.1f}"
        )
        print(row + "".join(f" {figures.statuses[kind].get(c, 0):>7}" for c in columns))
    total = sum(len(v) for v in figures.requests.values())
    print(f"  {'all requests':<40} {total:>6} {total / seconds:>7.1f}")
    print("\nOperations (end to end, every request of the operation)")
    print(
        f"  {'operation':<12} {'n':>6} {'ops/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'ok':>6} {'conflict':>8} {'throttled':>9} {'error':>6}"
    )
    for name in OPERATIONS:
        values = figures.ops.get(name, [])
        if not values:
            continue
        o = figures.outcomes[name]
        print(
            f"  {name:<12} {len(values):>6} {len(values) / seconds:>7.1f} "
            f"{percentile(values, 50) * 1000:>8.1f} {percentile(values, 95) * 1000:>8.1f} "
            f"{percentile(values, 99) * 1000:>8.1f} {o.get('ok', 0):>6} "
            f"{o.get('conflict', 0):>8} {o.get('throttled', 0):>9} {o.get('error', 0):>6}"
        )


def parse_mix(text: str) -> list[tuple[str, int]]:
    mix = []
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in OPERATIONS:
            raise SystemExit(f"--mix: unknown operation {name!r}; known: {', '.join(OPERATIONS)}")
        mix.append((name.strip(), int(weight)))
    return mix


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration (max 600)")
    parser.add_argument("--clients", type=int, default=24, help="concurrent client threads")
    parser.add_argument(
        "--assessments",
        type=int,
        default=8,
        help="assessments shared by the clients (clients/assessments each)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"weights (default {DEFAULT_MIX})")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timeout", type=float, default=60.0, help="per request, seconds")
    parser.add_argument("--db", default="kansa_load")
    parser.add_argument("--pg-host", default=HOST)
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    if args.pg_host not in (HOST, "localhost"):
        raise SystemExit("this load test only talks to 127.0.0.1")
    if not 1 <= args.seconds <= 600:
        raise SystemExit("--seconds must be 1 to 600")
    mix = parse_mix(args.mix)

    secret_key = secrets.token_hex(32)
    workdir = Path(tempfile.mkdtemp(prefix="kansa-load-"))
    log = workdir / "gunicorn.log"
    create_database(args)
    try:
        return run(args, mix, secret_key, log)
    finally:
        if not args.keep_db:
            drop_database(args)


def run(args: argparse.Namespace, mix: list[tuple[str, int]], secret_key: str, log: Path) -> int:
    began = time.perf_counter()
    clients = populate(args, secret_key)
    print(
        f"setup: database {args.db}, {len(clients)} clients on {args.assessments} "
        f"assessments of {SLUG}, each client owning its own items "
        f"({time.perf_counter() - began:.1f} s)"
    )
    port = free_port()
    server = start_gunicorn(args, secret_key, port, log)
    try:
        sampler = MemorySampler(server.pid)
        sampler.start()
        print(
            f"gunicorn: {args.workers} sync workers on {HOST}:{port}; load for "
            f"{args.seconds:g} s from {len(clients)} clients, mix {args.mix}"
        )
        figures = Figures()
        deadline = time.monotonic() + args.seconds
        workers = [
            Worker(c, port, deadline, mix, figures, args.seed * 1000 + c.index, args.timeout)
            for c in clients
        ]
        sampler.sample()
        server_cpu = sum(sampler.cpu.values())
        client_cpu = sum(os.times()[:2])
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(1.0, deadline - time.monotonic()) + args.timeout + 30)
        elapsed = time.perf_counter() - started
        sampler.sample()
        sampler.stopping.set()
        server_cpu = sum(sampler.cpu.values()) - server_cpu
        client_cpu = sum(os.times()[:2]) - client_cpu
        still = [w.name for w in workers if w.is_alive()]
        print_tables(figures, elapsed)
        print("\nPeak RSS (VmHWM) per gunicorn process")
        for pid, kb in sorted(sampler.peaks.items()):
            print(f"  worker pid {pid}: {kb / 1024:.1f} MiB")
        master = memory_kb(server.pid).get("VmHWM", 0)
        print(f"  master pid {server.pid}: {master / 1024:.1f} MiB")
        print(
            f"\nCPU during the load ({os.cpu_count()} cores, {elapsed:.1f} s): gunicorn "
            f"workers {server_cpu:.1f} s, this load generator {client_cpu:.1f} s"
        )
    finally:
        stop(server)
    failures = []
    fives = sum(s.get("5xx", 0) for s in figures.statuses.values())
    errors = sum(s.get("err", 0) for s in figures.statuses.values())
    unexpected = sum(o.get("error", 0) for o in figures.outcomes.values())
    throttled = sum(s.get("429", 0) for s in figures.statuses.values())
    if fives:
        failures.append(f"{fives} responses were 5xx")
    if errors:
        failures.append(f"{errors} requests failed in transport")
    if unexpected:
        failures.append(f"{unexpected} operations ended with an unexpected answer")
    if still:
        failures.append(f"clients still running after the load: {', '.join(still)}")
    print(f"\nsign-ins throttled (429): {throttled}")
    failures += verify(args, secret_key, [w.ledger for w in workers])
    if figures.problems:
        print("\nFirst problems seen:")
        for text in figures.problems[:20]:
            print(f"  {text}")
    if failures:
        print(f"\nFAILED (gunicorn log: {log}):")
        for text in failures:
            print(f"  - {text}")
        return 1
    print("\nOK: no 5xx, no transport error, no unexpected answer, no lost answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
