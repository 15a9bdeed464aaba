"""Benchmark the PDF report: the whole report against WeasyPrint rendering the same HTML alone.

Run from the repository root:  .venv/bin/python bench/bench_reports.py [--runs N] [--sizes ...]

For each size (30, 120 and 500 items by default) an approved assessment is built through the
services (``audit.reports.sample``: answers, evidence, findings with plans, submit, approve) in
a temporary SQLite database, then:

* time, best of ``--runs`` in this process after one warm-up render:
  (a) the full report as a cache miss renders it: report model from the database, content
      hash, Jinja template, WeasyPrint;
  (b) WeasyPrint alone: ``HTML(string=...).write_pdf()`` on the very HTML (a) produced,
      with the same base URL, fetcher and options.
  The ratio a / b is the figure: what the report code adds on top of the renderer.
* peak memory of (a) and of (b), each in a fresh subprocess (``VmHWM``, so the figure is
  the real resident peak, fonts and all), as the peak and as the growth over the process's
  size once everything is imported (Linux only);
* a cached download: ``GET /assessments/<id>/report.pdf`` through the Flask test client once
  the PDF is in ``report_cache`` (median of 20).

Nothing is written in the repository: databases and HTML live in a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMEZONE = "Asia/Tokyo"


def _app(url: str) -> Any:
    """A testing app on ``url`` (no secret needed)."""
    from audit import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})


def full_report(session: Any, assessment_id: int, lang: str) -> tuple[bytes, str]:
    """What a cache miss does: model, hash, template, WeasyPrint. Returns (pdf, html)."""
    from audit import reports
    from audit.reports.render import html_to_pdf

    model = reports.build(session, assessment_id, lang, TIMEZONE)
    digest = reports.content_hash(model)
    a = model["assessment"]
    html = reports.render_html(model, digest, a["approved_at"], a["approved_at_iso"])
    return html_to_pdf(html, digest), html


def weasyprint_alone(html: str, digest: str = "0" * 64) -> bytes:
    """WeasyPrint on ready HTML, with the report's base URL, fetcher and options."""
    import weasyprint

    from audit.reports.fetcher import SafeFetcher, base_url

    return weasyprint.HTML(
        string=html, base_url=base_url(), url_fetcher=SafeFetcher(), media_type="print"
    ).write_pdf(pdf_identifier=digest[:32].encode())


def best_interleaved(runs: int, *works: Any) -> list[float]:
    """Best time of each piece of work over ``runs`` rounds, run in turn (a, b, a, b, ...).

    Interleaving spreads a shared machine's slow moments over both sides of the ratio.
    """
    best = [float("inf")] * len(works)
    for _ in range(runs):
        for index, work in enumerate(works):
            start = time.perf_counter()
            work()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


# ------------------------------------------------------------------------------ children


def memory_kb(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (resident peak) of this process, in KiB.

    Read from /proc rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over ``exec``, so a
    child started from a large parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    """One cold render in this fresh process; prints its resident-memory figures as JSON."""
    if args.child == "full":
        from audit.extensions import db

        app = _app(args.db)
        with app.app_context():
            db.session.connection()  # open the database before the baseline
            base = memory_kb("VmRSS")
            start = time.perf_counter()
            pdf, _ = full_report(db.session, args.assessment, args.lang)
    else:
        import weasyprint  # noqa: F401

        from audit.reports import fetcher  # noqa: F401

        html = Path(args.html).read_text(encoding="utf-8")
        base = memory_kb("VmRSS")
        start = time.perf_counter()
        pdf = weasyprint_alone(html)
    seconds = time.perf_counter() - start
    peak = memory_kb("VmHWM")
    print(json.dumps({"base_kb": base, "peak_kb": peak, "seconds": seconds, "bytes": len(pdf)}))


def run_child(*extra: str) -> dict[str, Any]:
    """Run this script as a child with ``extra`` arguments; its last line of JSON."""
    out = subprocess.run(
        [sys.executable, __file__, *extra],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ main


def measure(size: int, lang: str, runs: int, folder: Path) -> dict[str, Any]:
    """Every figure for one size and language, from a fresh database in ``folder``."""
    import pypdf
    from sqlmodel import select

    from audit import reports
    from audit.extensions import db
    from audit.migrate import upgrade_url
    from audit.models import ReportCache
    from audit.reports import sample

    path = folder / f"bench-{size}-{lang}.sqlite3"
    url = f"sqlite:///{path}"
    upgrade_url(url)
    app = _app(url)
    with app.app_context():
        world = sample.build(db.session, size)
        assessment_id = world.assessment_id
        viewer_email = world.viewer.email
        pdf, html = full_report(db.session, assessment_id, lang)  # warm-up (fonts, caches)
        pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
        full, alone = best_interleaved(
            runs,
            lambda: full_report(db.session, assessment_id, lang),
            lambda: weasyprint_alone(html),
        )
        model = reports.build(db.session, assessment_id, lang, TIMEZONE)
        digest = reports.content_hash(model)
        a = model["assessment"]
        model_only, hashing, template = best_interleaved(
            max(runs, 5),
            lambda: reports.build(db.session, assessment_id, lang, TIMEZONE),
            lambda: reports.content_hash(model),
            lambda: reports.render_html(model, digest, a["approved_at"], a["approved_at_iso"]),
        )
    html_path = folder / f"bench-{size}-{lang}.html"
    html_path.write_text(html, encoding="utf-8")
    mem_full = run_child(
        "--child", "full", "--db", url, "--assessment", str(assessment_id), "--lang", lang
    )
    mem_alone = run_child("--child", "weasy", "--html", str(html_path))

    client = app.test_client()
    from tests.conftest import csrf_token

    token = csrf_token(client, "/auth/login")
    client.post(
        "/auth/login",
        data={"email": viewer_email, "password": sample.PASSWORD, "csrf_token": token},
    )
    target = f"/assessments/{assessment_id}/report.pdf?lang={lang}"
    start = time.perf_counter()
    first = client.get(target)
    miss = time.perf_counter() - start
    assert first.status_code == 200 and first.headers["X-Kansa-Report-Cache"] == "miss"
    hits = []
    for _ in range(20):
        start = time.perf_counter()
        response = client.get(target)
        hits.append(time.perf_counter() - start)
        assert response.headers["X-Kansa-Report-Cache"] == "hit" and response.data == first.data
    with app.app_context():
        assert len(db.session.exec(select(ReportCache)).all()) == 1
    return {
        "items": size,
        "lang": lang,
        "pages": pages,
        "pdf_kb": len(pdf) / 1024,
        "full_s": full,
        "alone_s": alone,
        "model_ms": model_only * 1000,
        "hash_ms": hashing * 1000,
        "template_ms": template * 1000,
        "own_share": (model_only + hashing + template) / alone,
        "ratio": full / alone,
        "full_peak_mb": mem_full["peak_kb"] / 1024,
        "full_growth_mb": (mem_full["peak_kb"] - mem_full["base_kb"]) / 1024,
        "alone_peak_mb": mem_alone["peak_kb"] / 1024,
        "alone_growth_mb": (mem_alone["peak_kb"] - mem_alone["base_kb"]) / 1024,
        "miss_s": miss,
        "hit_ms": statistics.median(hits) * 1000,
    }


def main() -> None:
    """Measure each size, print one JSON line per size, then the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 120, 500])
    parser.add_argument("--langs", nargs="+", default=["en"], choices=["en", "ja"])
    parser.add_argument("--child", choices=["full", "weasy"], help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--assessment", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lang", default="en", help=argparse.SUPPRESS)
    parser.add_argument("--html", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    import weasyprint

    print(
        f"Python {platform.python_version()}, WeasyPrint {weasyprint.__version__}, "
        f"{os.cpu_count()} cores, {platform.machine()}, best of {args.runs}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="kansa-bench-reports-") as tmp:
        for lang in args.langs:
            for size in args.sizes:
                row = measure(size, lang, args.runs, Path(tmp))
                rows.append(row)
                print(
                    json.dumps(
                        {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
                    ),
                    flush=True,
                )
    print()
    print(
        "| items | lang | pages | PDF | full report | WeasyPrint alone | ratio "
        "| model + hash + template | peak RSS full / alone | growth full / alone "
        "| first GET (miss) | cached GET |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        own = r["model_ms"] + r["hash_ms"] + r["template_ms"]
        print(
            f"| {r['items']} | {r['lang']} | {r['pages']} | {r['pdf_kb']:.0f} KB "
            f"| {r['full_s']:.2f} s | {r['alone_s']:.2f} s | {r['ratio']:.2f} "
            f"| {own:.0f} ms ({r['model_ms']:.0f} + {r['hash_ms']:.0f} + "
            f"{r['template_ms']:.0f}) = {100 * r['own_share']:.1f} % "
            f"| {r['full_peak_mb']:.0f} / {r['alone_peak_mb']:.0f} MB "
            f"| {r['full_growth_mb']:.0f} / {r['alone_growth_mb']:.0f} MB "
            f"| {r['miss_s']:.2f} s | {r['hit_ms']:.1f} ms |"
        )


if __name__ == "__main__":
    main()
