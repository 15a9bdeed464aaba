#!/usr/bin/env python3
"""A whole audit through Kansa's REST API, with nothing but the Python standard library.

    KANSA_URL=https://kansa.example.com \\
    KANSA_AUDITOR_TOKEN=kansa_... KANSA_REVIEWER_TOKEN=kansa_... \\
    KANSA_ADMIN_TOKEN=kansa_...   # optional: also verifies the whole audit trail
    python examples/kansa_client.py

It records a subcontractor, plans an assessment with the auditor and reviewer it finds through
GET /users, answers every item, uploads evidence, gives the finding a remediation plan, submits,
approves with the reviewer's token, fetches the PDF report and the OSCAL document, and verifies
the hash chain of the audit trail from the API's output alone. Every write that changes an
assessment sends If-Match with the ETag of the copy it read, as the API requires.

Exit status 0 when every step succeeded; otherwise the failing request and its JSON error body.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import date, timedelta
from typing import Any

GENESIS = "0" * 64


class ApiError(Exception):
    """A response other than the one expected: its status and JSON error body."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} answered {status}: {body}")
        self.status = status
        self.body = body


class Response:
    def __init__(self, status: int, headers: Any, data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data

    def json(self) -> Any:
        return json.loads(self.data.decode("utf-8"))

    @property
    def etag(self) -> str:
        return str(self.headers["ETag"])


class Kansa:
    """A small client of /api/v1 for one bearer token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: dict[str, Any] | None = None,
        if_match: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> Response:
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if files:
            data, headers["Content-Type"] = _multipart(files)
        if if_match is not None:
            headers["If-Match"] = if_match
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as answer:
                response = Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as error:
            response = Response(error.code, error.headers, error.read())
        if response.status not in expect:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.data[:300]
            raise ApiError(method, path, response.status, body)
        return response

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Response:
        return self.request("PATCH", path, **kw)

    def all_pages(self, path: str, **query: Any) -> list[Any]:
        """Every row of a paginated list (the X-Pagination header says how many pages)."""
        rows: list[Any] = []
        page = 1
        while True:
            answer = self.get(path, query={**query, "page": page, "page_size": 100})
            rows += answer.json()
            meta = json.loads(answer.headers.get("X-Pagination") or "{}")
            if not meta.get("next_page"):
                return rows
            page = meta["next_page"]


def _multipart(files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for field, (filename, content, content_type) in files.items():
        parts.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


# ------------------------------------------------------------------------------ the hash chain


def event_hash(event: dict[str, Any]) -> str:
    """An event's hash, by the rule in the API's description of the events tag."""
    body = {
        "prev": event["prev_hash"],
        "at": event["occurred_at"],
        "actor_id": event["actor_id"],
        "actor": event["actor"],
        "action": event["action"],
        "object": [event["object_type"], event["object_id"]],
        "assessment_id": event["assessment_id"],
        "before": event["before"],
        "after": event["after"],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_trail(admin: Kansa) -> int:
    """Follow GET /events from the start and check every hash and every link; the count."""
    previous, cursor, count = GENESIS, 0, 0
    while True:
        batch = admin.get("/events", query={"after": cursor, "limit": 200}).json()
        for event in batch["events"]:
            if event["prev_hash"] != previous:
                raise SystemExit(f"event {event['id']}: the link to the previous one is broken")
            if event_hash(event) != event["hash"]:
                raise SystemExit(f"event {event['id']}: its content does not match its hash")
            previous = event["hash"]
            count += 1
        cursor = batch["next"]
        if not batch["more"]:
            return count


# ------------------------------------------------------------------------------ the audit


def step(text: str) -> None:
    print(f"- {text}", flush=True)


def run(base_url: str, auditor_token: str, reviewer_token: str, admin_token: str | None) -> int:
    auditor = Kansa(base_url, auditor_token)
    reviewer = Kansa(base_url, reviewer_token)
    me = auditor.get("/me").json()
    step(f"signed in as {me['name']} ({me['role']})")

    name = f"Example Logistics K.K. {uuid.uuid4().hex[:8]}"
    company = auditor.post(
        "/subcontractors",
        json_body={"name": name, "country": "JP", "tier": 2, "services": "Delivery tracking"},
        expect=(201,),
    ).json()
    step(f"recorded subcontractor {company['id']}: {company['name']}")

    reviewers = auditor.all_pages("/users", role="reviewer", active="true")
    if not reviewers:
        raise SystemExit("no active reviewer: ask an admin to create one")
    version = next(
        v
        for checklist in auditor.get("/checklists").json()
        if checklist["slug"] == "subcontractor-oversight"
        for v in checklist["versions"]
    )
    created = auditor.post(
        "/assessments",
        json_body={
            "subcontractor_id": company["id"],
            "checklist_version_id": version["id"],
            "auditor_ids": [me["id"]],
            "reviewer_id": reviewers[0]["id"],
            "due_date": (date.today() + timedelta(days=30)).isoformat(),
        },
        expect=(201,),
    )
    assessment = created.json()
    aid = assessment["id"]
    step(f"planned assessment {aid} with reviewer {reviewers[0]['name']}")

    definition = auditor.get(f"/checklists/{version['slug']}/versions/{version['version']}")
    items = [i for s in definition.json()["content"]["sections"] for i in s["items"]]
    gap = items[0]
    answers = [
        {"ref": gap["ref"], "status": "partial", "comment": "The register misses two vendors."}
    ] + [
        {
            "ref": item["ref"],
            "status": "compliant" if "compliant" in item["answers"] else item["answers"][0],
            "comment": "Checked on site.",
        }
        for item in items[1:]
    ]
    etag = auditor.get(f"/assessments/{aid}/answers").etag
    auditor.patch(f"/assessments/{aid}/answers", json_body={"answers": answers}, if_match=etag)
    step(f"answered {len(answers)} items")

    evidence = auditor.post(
        f"/assessments/{aid}/evidence",
        query={"item_ref": gap["ref"]},
        files={"file": ("register.txt", b"vendor register, 2026 edition\n", "text/plain")},
        expect=(201,),
    ).json()
    step(f"uploaded evidence {evidence['filename']} (sha256 {evidence['sha256'][:12]}...)")

    finding = auditor.get("/findings", query={"assessment_id": aid}).json()[0]
    planned = {
        "remediation_plan": "Add the two vendors and reconcile quarterly.",
        "owner": "Procurement",
        "due_date": (date.today() + timedelta(days=90)).isoformat(),
    }
    finding_etag = auditor.get(f"/findings/{finding['id']}").headers.get("ETag")
    auditor.request(
        "PATCH",
        f"/findings/{finding['id']}",
        json_body=planned,
        if_match=finding_etag,  # sent when the server gives findings an ETag
    )
    step(f"finding {finding['id']} on {finding['item_ref']}: remediation planned")

    # the evidence moved the revision on: submit with the ETag of a fresh copy
    current = auditor.get(f"/assessments/{aid}").etag
    submitted = auditor.post(f"/assessments/{aid}/submit", if_match=current)
    step(f"submitted: {submitted.json()['state']}")

    current = reviewer.get(f"/assessments/{aid}").etag
    approved = reviewer.post(
        f"/assessments/{aid}/approve",
        json_body={"comment": "Approved with one finding."},
        if_match=current,
    ).json()
    rating = (approved.get("score_snapshot") or {}).get("rating")
    step(f"approved by the reviewer: {approved['state']}, rating {rating}")

    report = auditor.get(f"/assessments/{aid}/report.pdf")
    if not report.data.startswith(b"%PDF"):
        raise SystemExit("the report is not a PDF")
    step(f"report: {len(report.data):,} bytes of PDF")
    oscal = auditor.get(f"/assessments/{aid}/oscal").json()
    step(f"OSCAL assessment-results {oscal['assessment-results']['uuid']}")

    events = auditor.all_pages(f"/assessments/{aid}/events")
    for event in events:
        if event_hash(event) != event["hash"]:
            raise SystemExit(f"event {event['id']} does not match its hash")
    kinds = ", ".join(sorted({e["action"] for e in events}))
    step(f"{len(events)} events of the assessment, each matching its hash: {kinds}")
    if admin_token:
        count = verify_trail(Kansa(base_url, admin_token))
        step(f"the whole audit trail verified: {count} events, every link intact")
    print("audit complete")
    return 0


def main() -> int:
    try:
        return run(
            os.environ.get("KANSA_URL", "http://127.0.0.1:5000"),
            os.environ["KANSA_AUDITOR_TOKEN"],
            os.environ["KANSA_REVIEWER_TOKEN"],
            os.environ.get("KANSA_ADMIN_TOKEN"),
        )
    except KeyError as missing:
        print(f"set {missing.args[0]} (see the docstring)", file=sys.stderr)
        return 2
    except ApiError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
