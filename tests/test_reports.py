"""PDF reports: read back from the PDF itself (pypdf, poppler's pdftotext and pdffonts).

Assessments are built through the services, the PDF is fetched through the Flask client as a
signed-in user, and every assertion is on what the PDF holds: rating, findings, sections,
coverage, Japanese text, embedded fonts, the DRAFT mark page by page, byte-identical approved
reports (cache and fresh processes), and a hostile-content render that must reach nothing.
PNG pages of the en and ja reports are left in ``test-artifacts/reports/`` for a person to see.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pypdf
import pytest
from sqlmodel import select

from audit import policies, reports
from audit.extensions import db
from audit.models import Assessment, Finding, ReportCache
from audit.reports import chart, fetcher, labels, sample
from audit.reports import service as report_svc
from audit.reports.render import html_to_pdf
from audit.services import Forbidden, ServiceError
from audit.services import assessments as svc
from audit.services import evidence as evidence_svc
from audit.services import findings as findings_svc
from audit.vocabulary import ItemState, Severity, values
from tests import factories
from tests.test_web_assessments import sign_in

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "reports"

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts") and shutil.which("pdftoppm")),
    reason="poppler-utils (pdftotext, pdffonts, pdftoppm) is not installed",
)

# A mix that gives findings of every kind and at least one cap; by position in a section.
MIX = ("compliant", "partial", "non_compliant", "compliant", "not_applicable", "compliant")


# ------------------------------------------------------------------------------ helpers


def pdf_text(pdf: bytes, tmp_path: Path, layout: bool = True) -> str:
    """pdftotext's reading of the PDF (``-layout`` by default)."""
    path = tmp_path / "read.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def page_texts(pdf: bytes) -> list[str]:
    """pypdf's text of each page."""
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def squeeze(text: str) -> str:
    """The text without any whitespace, so that wrapped table cells still match."""
    return re.sub(r"\s+", "", text)


def fonts(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    """pdffonts' rows: name, type..., emb, sub, uni, object, id."""
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines()[2:] if line.strip()]


def embedded_column(rows: list[list[str]]) -> list[str]:
    """The emb column (the third from the right of 'emb sub uni object ID')."""
    return [row[-5] for row in rows]


def write_pngs(pdf: bytes, name: str, last: int | None = None) -> list[Path]:
    """Page images with pdftoppm -r 50 in test-artifacts/reports/<name>-N.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    source = ARTIFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-png",
            *(["-l", str(last)] if last else []),
            str(source),
            str(ARTIFACTS / name),
        ],
        check=True,
    )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


def get_pdf(client, assessment_id: int, lang: str | None = None, **headers):
    url = f"/assessments/{assessment_id}/report.pdf" + (f"?lang={lang}" if lang else "")
    return client.get(url, headers=headers)


@pytest.fixture
def world(app, loaded_checklists):
    """An in-progress, fully answered assessment of the shipped subcontractor-oversight."""
    with app.app_context():
        session = db.session
        people = factories.team(session)
        company = factories.subcontractor(session, people.admin, name="Aozora Cloud 青空クラウド")
        assessment = factories.assessment(
            session,
            people,
            company=company,
            period_start=date(2026, 4, 1),
            period_end=date(2026, 9, 30),
        )
        checklist = svc.definition(session, assessment)
        inputs = []
        for section in checklist.sections:
            for position, item in enumerate(section.items):
                status = MIX[position % len(MIX)]
                if status not in item.answers:
                    status = "compliant"
                comment = f"Gap noted on {item.ref}." if status != "compliant" else ""
                inputs.append(svc.AnswerInput(item.ref, status, comment))
        svc.save_answers(session, people.auditor, assessment, inputs, None)
        evidence_svc.add(
            session,
            people.auditor,
            assessment,
            filename="register-2026.csv",
            content_type="text/csv",
            data=b"name,tier\nHanul,1\n",
            max_bytes=1 << 20,
            item_ref=checklist.sections[0].items[0].ref,
        )
        session.commit()
        rows = session.exec(select(Finding).where(Finding.assessment_id == assessment.id)).all()
        for n, finding in enumerate(rows):
            findings_svc.update(
                session,
                people.auditor,
                finding,
                remediation_plan=f"Remediation plan number {n + 1} for this gap.",
                owner="Kenji Sato",
                due_date=date(2026, 12, 31),
                status="in_remediation" if n % 2 else "open",
            )
        session.commit()
        return {"assessment_id": assessment.id, "people": people}


def approve(app, world, comment: str = "Approved for the file.") -> None:
    with app.app_context():
        session = db.session
        people = world["people"]
        assessment = session.get(Assessment, world["assessment_id"])
        svc.submit(session, people.auditor, assessment, None)
        svc.approve(session, people.reviewer, assessment, None, comment)
        session.commit()


def expected(app, world, lang: str = "en"):
    """What the report must show: the rules' result, findings with refs, the checklist."""
    with app.app_context():
        session = db.session
        assessment = session.get(Assessment, world["assessment_id"])
        result = svc.live_score(session, assessment)
        checklist = svc.definition(session, assessment)
        model = reports.build(session, assessment.id, lang, "Asia/Tokyo")
        return result, checklist, model


# ------------------------------------------------------------------------------ content


@pytest.mark.pdf
def test_draft_report_holds_rating_findings_sections_coverage_and_draft_on_every_page(
    client, app, world, tmp_path
):
    sign_in(client, "viewer")  # viewers may read reports
    response = get_pdf(client, world["assessment_id"])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert re.search(r'filename="?KANSA-A\d+-[0-9a-f]{8}\.pdf', disposition)
    assert "private" in response.headers["Cache-Control"]
    pdf = response.data
    assert pdf.startswith(b"%PDF-")

    result, checklist, model = expected(app, world)
    text = pdf_text(pdf, tmp_path)
    pages = page_texts(pdf)
    flat = squeeze("".join(pages))
    assert result.rating and result.findings
    assert squeeze(f"Score {result.score:.1f} / 100") in flat  # the cover
    assert squeeze(f"RATING{result.rating}SCORE{result.score:.1f}/100") in squeeze(pages[1])
    for cap in result.caps:
        assert squeeze(cap.sentence) in flat
    for finding in model["findings"]:
        assert finding["ref"] in text
        assert squeeze(finding["plan"]) in flat
    assert len(model["findings"]) == len(result.findings)
    for section in checklist.sections:
        assert squeeze(section.title.en) in flat
    for key, ref in ((r.key, r) for r in result.references):
        assert squeeze(labels.reference_label(ref.framework, ref.id)) in flat, key
    for must in ("APPI Art. 25", "ISO/IEC 27001 A.5.19", "NIST CSF GV.SC-05"):
        assert squeeze(must) in flat
    assert "register-2026.csv" in text
    assert model["events"] and "Finding updated" in text

    assert len(pages) >= 6
    assert [n for n, page in enumerate(pages, start=1) if "DRAFT" not in page] == []
    report_id = response.headers["X-Kansa-Report-Id"]
    for number, page in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in page
        if number > 1:  # the cover shows the id in its body, later pages in the header
            assert report_id in page and "Confidential" in page

    rows = fonts(pdf, tmp_path)
    assert rows and set(embedded_column(rows)) == {"yes"}
    write_pngs(pdf, "draft-en")


@pytest.mark.pdf
def test_japanese_report_has_real_japanese_text_and_an_embedded_cjk_font(
    client, app, world, tmp_path
):
    sign_in(client, "auditor")
    response = get_pdf(client, world["assessment_id"], "ja")
    assert response.status_code == 200
    pdf = response.data
    assert (
        response.headers["Content-Disposition"].endswith('-ja.pdf"')
        or "-ja.pdf" in (response.headers["Content-Disposition"])
    )
    result, checklist, model = expected(app, world, "ja")
    text = pdf_text(pdf, tmp_path)
    flat = squeeze("".join(page_texts(pdf)))
    for word in (
        "委託先監査報告書",
        "エグゼクティブサマリー",
        "指摘事項及び是正計画",
        "ガイダンス対応状況",
        "セクション別の詳細",
        "適合",
        "一部適合",
        "不適合",
        "評価",
        "社外秘",
        "委託先の監督",
        "下書き",
    ):
        assert word in text, word
    for section in checklist.sections:
        assert section.title.ja and squeeze(section.title.ja) in flat
    first = checklist.sections[0].items[0]
    assert squeeze(first.question.ja[:30]) in flat
    assert squeeze("青空クラウド") in flat  # user text in Japanese too
    assert squeeze(f"{result.score:.1f}") in flat
    assert all("DRAFT" in page for page in page_texts(pdf))
    rows = fonts(pdf, tmp_path)
    assert set(embedded_column(rows)) == {"yes"}
    assert any("CJK" in row[0] for row in rows), rows
    # the characters map back to Unicode (copyable), not to boxes or private glyph ids
    assert "\ufffd" not in text and "□" not in text
    write_pngs(pdf, "draft-ja")


@pytest.mark.pdf
def test_a_new_assessment_without_answers_reports_a_provisional_zero(
    client, app, loaded_checklists
):
    """Unanswered items stay in the denominator: 0.0, rating E, provisional."""
    with app.app_context():
        people = factories.team(db.session)
        assessment = factories.assessment(db.session, people)
        assessment_id = assessment.id
    sign_in(client, "auditor")
    response = get_pdf(client, assessment_id)
    assert response.status_code == 200
    pages = page_texts(response.data)
    flat = squeeze("".join(pages))
    assert "Unanswered" in flat and squeeze("No findings") in flat
    assert squeeze("RATINGESCORE0.0/100") in squeeze(pages[1])
    assert re.search(r"provisional: \d+ item\(s\) unanswered", pages[0])
    assert all("DRAFT" in page for page in pages)


@pytest.mark.pdf
def test_approved_report_is_cached_byte_identical_and_free_of_draft(
    client, app, world, tmp_path, count_queries
):
    approve(app, world)
    sign_in(client, "viewer")
    first = get_pdf(client, world["assessment_id"])
    assert first.status_code == 200
    assert first.headers["X-Kansa-Report-Cache"] == "miss"
    etag = first.headers["ETag"].strip('"')
    assert re.fullmatch(r"[0-9a-f]{64}", etag)
    with count_queries() as statements:
        second = get_pdf(client, world["assessment_id"])
    assert second.headers["X-Kansa-Report-Cache"] == "hit"
    assert second.data == first.data
    assert not any(s.lstrip().upper().startswith("INSERT") for s in statements)
    with app.app_context():
        rows = db.session.exec(select(ReportCache)).all()
        assert [(r.content_hash, r.lang, r.size) for r in rows] == [(etag, "en", len(first.data))]

    # revalidation: the browser's copy is still good
    again = get_pdf(client, world["assessment_id"], **{"If-None-Match": f'"{etag}"'})
    assert again.status_code == 304 and not again.data

    # true determinism: rendered afresh with the cache emptied, the bytes are the same
    with app.app_context():
        for row in db.session.exec(select(ReportCache)).all():
            db.session.delete(row)
        db.session.commit()
    fresh = get_pdf(client, world["assessment_id"])
    assert fresh.headers["X-Kansa-Report-Cache"] == "miss"
    assert fresh.data == first.data

    pages = page_texts(first.data)
    assert not any("DRAFT" in page for page in pages)
    text = pdf_text(first.data, tmp_path)
    assert "Report of record, approved" in text and "Approved for the file." in text
    reader = pypdf.PdfReader(io.BytesIO(first.data))
    assert reader.metadata.creation_date == reader.metadata.modification_date
    assert reader.trailer["/ID"][0] == etag[:32]
    write_pngs(first.data, "approved-en")

    ja = get_pdf(client, world["assessment_id"], "ja")
    ja_again = get_pdf(client, world["assessment_id"], "ja")
    assert ja.data == ja_again.data and ja.data != first.data
    assert ja_again.headers["X-Kansa-Report-Cache"] == "hit"
    assert not any("DRAFT" in page for page in page_texts(ja.data))
    assert "確定版報告書" in pdf_text(ja.data, tmp_path)
    with app.app_context():
        assert sorted(r.lang for r in db.session.exec(select(ReportCache)).all()) == ["en", "ja"]
    write_pngs(ja.data, "approved-ja")


@pytest.mark.pdf
def test_finding_edit_after_approval_gives_a_new_cached_report(client, app, world, tmp_path):
    approve(app, world)
    sign_in(client, "viewer")
    before = get_pdf(client, world["assessment_id"])
    with app.app_context():
        session = db.session
        finding = session.exec(select(Finding).where(Finding.current)).first()
        findings_svc.update(
            session,
            world["people"].auditor,
            finding,
            remediation_plan="Closed after the re-audit of March 2027.",
            owner="Yui Tanaka",
            due_date=date(2027, 3, 31),
            status="closed",
        )
        session.commit()
    after = get_pdf(client, world["assessment_id"])
    assert after.headers["X-Kansa-Report-Cache"] == "miss"
    assert after.data != before.data and after.headers["ETag"] != before.headers["ETag"]
    assert squeeze("Closed after the re-audit of March 2027.") in squeeze(
        "".join(page_texts(after.data))
    )
    with app.app_context():
        assert len(db.session.exec(select(ReportCache)).all()) == 2


@pytest.mark.pdf
def test_approved_report_is_identical_when_rendered_in_a_fresh_process(app, world, tmp_path):
    """No hash seed, clock or process state leaks into the PDF."""
    approve(app, world)
    with app.app_context():
        made = report_svc.report(
            db.session, world["people"].viewer, world["assessment_id"], "ja", "Asia/Tokyo"
        )
        model = reports.build(db.session, world["assessment_id"], "ja", "Asia/Tokyo")
    model_path = tmp_path / "model.json"
    model_path.write_text(json.dumps(model, ensure_ascii=False), encoding="utf-8")
    script = (
        "import json, sys\n"
        "from audit import reports\n"
        "m = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "d = reports.content_hash(m)\n"
        "a = m['assessment']\n"
        "pdf = reports.render_pdf(m, d, a['approved_at'], a['approved_at_iso'])\n"
        "sys.stdout.buffer.write(pdf)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, str(model_path)],
        capture_output=True,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout == made.pdf


# ------------------------------------------------------------------------------ safety


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener():
    server = Listener()
    # the listener works: a real connection is counted
    socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    for _ in range(50):
        if server.connections:
            break
        threading.Event().wait(0.02)
    assert server.connections == 1
    server.connections = 0
    yield server
    server.close()


def hostile_strings(port: int) -> list[str]:
    return [
        f'<img src="http://127.0.0.1:{port}/x">',
        "file:///etc/passwd",
        f"<style>body{{background:url(http://127.0.0.1:{port}/y)}}</style>",
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/z.css">',
        '<iframe src="file:///etc/passwd"></iframe><object data="file:///etc/passwd"></object>',
        f"<svg><image href='http://127.0.0.1:{port}/s'/></svg> @import url(//127.0.0.1:{port}/i);",
    ]


@pytest.mark.pdf
def test_hostile_comments_and_plans_make_no_request_and_are_printed_escaped(
    client, app, world, listener, tmp_path, monkeypatch
):
    port = listener.port
    hostile = hostile_strings(port)
    with app.app_context():
        session = db.session
        people = world["people"]
        assessment = session.get(Assessment, world["assessment_id"])
        checklist = svc.definition(session, assessment)
        refs = [item.ref for item in checklist.items()][:3]
        answers = svc.answers_by_ref(session, assessment)
        svc.save_answers(
            session,
            people.auditor,
            assessment,
            [svc.AnswerInput(ref, answers[ref].status, " ".join(hostile)) for ref in refs],
            None,
        )
        finding = session.exec(select(Finding).where(Finding.current)).first()
        findings_svc.update(
            session,
            people.auditor,
            finding,
            remediation_plan="\n".join(hostile),
            owner=f'<img src="http://127.0.0.1:{port}/o">',
            due_date=None,
            status="open",
        )
        session.commit()

    asked: list[str] = []
    real_fetch = fetcher.SafeFetcher.fetch

    def spying(self, url, headers=None):
        asked.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(fetcher.SafeFetcher, "fetch", spying)
    sign_in(client, "viewer")
    for lang in ("en", "ja"):
        response = get_pdf(client, world["assessment_id"], lang)
        assert response.status_code == 200
        flat = squeeze("".join(page_texts(response.data)))
        for string in hostile:
            assert squeeze(string) in flat, string  # shown literally, as text
        assert "root:x:0:0" not in pdf_text(response.data, tmp_path)
    assert listener.connections == 0
    # the user text never became markup: the only thing WeasyPrint asked for was the stylesheet
    assert {url.rsplit("/", 1)[-1] for url in asked} == {"report.css"}


@pytest.mark.pdf
def test_the_fetcher_refuses_everything_but_the_report_static_files(listener, tmp_path):
    """Second wall: even markup that reached WeasyPrint unescaped fetches nothing."""
    port = listener.port
    secret = tmp_path / "secret.css"
    secret.write_text("body { background: red }")
    html = (
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/a.css">'
        f'<link rel="stylesheet" href="{secret.as_uri()}">'
        '<link rel="stylesheet" href="../../../etc/passwd">'
        f"<style>@import url(http://127.0.0.1:{port}/b.css); "
        f"body {{ background: url(http://127.0.0.1:{port}/c.png) }}</style>"
        f'<img src="http://127.0.0.1:{port}/d.png"><img src="file:///etc/passwd">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        f'<object data="https://127.0.0.1:{port}/e"></object><p>text</p>'
    )
    spy = fetcher.SafeFetcher()
    pdf = html_to_pdf(html, "0" * 64, spy)
    assert pdf.startswith(b"%PDF-")
    assert listener.connections == 0
    assert len(spy.refused) >= 6 and not spy.fetched
    assert not any(url.endswith("passwd") for url in spy.fetched)

    own = fetcher.SafeFetcher()
    css = (fetcher.STATIC_REPORTS / "report.css").resolve()
    assert own.path_for(css.as_uri()) == css
    outside = fetcher.STATIC_REPORTS.resolve().as_uri() + "/../../../etc/passwd"
    for url in (
        outside,
        "file:///etc/passwd",
        "http://127.0.0.1/x",
        "data:text/css,p{}",
        css.as_uri() + "?x=1",
        "file://evil.example" + css.as_posix(),
    ):
        assert own.path_for(url) is None, url
        with pytest.raises(fetcher.RefusedURL):
            own.fetch(url)


def test_chart_is_vector_svg_with_escaped_labels():
    svg = chart.section_chart(
        [
            {"ref": "S-1", "title": '<script>alert(1)</script> & "x"', "score": 72.5},
            {"ref": "S-2", "title": "委託先の把握・委託先台帳", "score": None},
        ],
        {"A": 85, "B": 70, "C": 55, "D": 40},
    )
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<image" not in svg and "href" not in svg and "url(" not in svg
    assert "72.5" in svg and "委託先の把握" in svg


def test_label_tables_cover_both_languages():
    for table in (
        labels.LABELS,
        labels.ANSWER_LABELS,
        labels.SEVERITY_LABELS,
        labels.STATE_LABELS,
        labels.FINDING_STATUS_LABELS,
        labels.FRAMEWORK_NAMES,
        labels.EVENT_LABELS,
    ):
        assert set(table["en"]) == set(table["ja"])
    assert labels.ANSWER_LABELS["ja"] == {
        "compliant": "適合",
        "partial": "一部適合",
        "non_compliant": "不適合",
        "not_applicable": "該当なし",
        "unanswered": "未回答",
    }
    assert set(labels.ANSWER_LABELS["en"]) == set(values(ItemState))
    assert set(labels.SEVERITY_LABELS["en"]) == set(values(Severity))
    with pytest.raises(ValueError):
        labels.labels("fr")


# ------------------------------------------------------------------------------ access


def test_report_access_rules(client, app, world, monkeypatch):
    url = f"/assessments/{world['assessment_id']}/report.pdf"
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]

    sign_in(client, "viewer")
    missing = client.get("/assessments/999999/report.pdf")
    assert missing.status_code == 404 and b"No assessment 999999" in missing.data
    # the service's refusal of the language: 422 naming it, on the page as on the API
    bad = client.get(url + "?lang=fr")
    assert bad.status_code == 422
    assert b"unknown report language" in bad.data.lower() and b"lang=ja" in bad.data
    assert bad.mimetype == "text/html"

    monkeypatch.setattr(policies, "may_view", lambda user: False)
    refused = client.get(url)
    assert refused.status_code == 403 and refused.mimetype == "text/html"

    with app.app_context():
        with pytest.raises(ServiceError):
            report_svc.check_lang("xx")
        with pytest.raises(Forbidden):
            report_svc.report(
                db.session, world["people"].viewer, world["assessment_id"], "en", "Asia/Tokyo"
            )


def test_assessment_pages_link_to_both_reports(client, world):
    sign_in(client, "viewer")
    for page in ("", "/review"):
        html = client.get(f"/assessments/{world['assessment_id']}{page}").get_data(as_text=True)
        assert f'/assessments/{world["assessment_id"]}/report.pdf"' in html
        assert f"/assessments/{world['assessment_id']}/report.pdf?lang=ja" in html


def test_report_model_takes_a_fixed_number_of_queries(app, count_queries):
    """30 or 120 items, with evidence and findings: the same number of statements."""
    with app.app_context():
        small = sample.build(db.session, 30, approve=False)
        large = sample.build(db.session, 120, approve=False)
        db.session.expunge_all()
        counts = []
        for world in (small, large):
            with count_queries() as statements:
                model = reports.build(db.session, world.assessment_id, "en", "Asia/Tokyo")
            counts.append(len(statements))
            assert sum(len(s["items"]) for s in model["sections"]) == len(world.item_refs)
            assert json.loads(json.dumps(model)) == model  # plain JSON data
    assert counts[0] == counts[1] <= 10, counts


@pytest.mark.slow
@pytest.mark.pdf
def test_a_500_item_report_renders_and_stays_readable(client, app, tmp_path):
    with app.app_context():
        world = sample.build(db.session, 500)
        assert len(world.item_refs) == 500
    sign_in_sample(client, world)
    response = get_pdf(client, world.assessment_id)
    assert response.status_code == 200
    pages = page_texts(response.data)
    assert len(pages) > 40
    flat = [squeeze(page) for page in pages]
    everything = "".join(flat)
    first, last = world.item_refs[0], world.item_refs[-1]
    assert squeeze(f"{first}") in everything and squeeze(last) in everything
    assert "controlarea20" in everything.lower()
    # tables broken across pages repeat their header row
    detail_pages = [p for p in flat if "QuestionAnswerCommentEvidence" in p]
    finding_pages = [p for p in flat if "SeverityItemFindingRemediationplan" in p]
    assert len(detail_pages) > 25 and len(finding_pages) > 3
    assert all(f"/{len(pages)}" in p for p in flat)
    assert len(write_pngs(response.data, "items-500", last=8)) == 8


def sign_in_sample(client, world) -> None:
    from tests.conftest import csrf_token

    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": world.viewer.email, "password": sample.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
