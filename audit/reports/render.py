"""From a report model to HTML (Jinja, autoescaped) and from HTML to PDF bytes (WeasyPrint).

Determinism: the PDF holds no clock. Its creation and modification dates come from the model
(the approval time of an approved assessment, the render time given by the caller otherwise),
its ``/ID`` is derived from the content hash, and WeasyPrint names font subsets by their
content. So an approved assessment's report is the same bytes however often it is rendered.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..config import ROOT, STATIC_REPORTS
from .chart import band_of, section_chart
from .data import REPORT_FORMAT_VERSION
from .labels import labels

if TYPE_CHECKING:
    from .fetcher import SafeFetcher

TEMPLATES = ROOT / "templates"
TEMPLATE = "reports/assessment.html"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """A Jinja environment of its own for the report: autoescape always on, strict undefined."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["filesize"] = _filesize
    env.filters["score"] = _score
    env.globals["band_of"] = band_of
    return env


@lru_cache(maxsize=1)
def assets_digest() -> str:
    """SHA-256 over the report's template and static files and the WeasyPrint version.

    It goes into every content hash, so changing the layout can never serve a stale cached PDF.
    """
    digest = hashlib.sha256(f"weasyprint {version('weasyprint')}\n".encode())
    for folder in (TEMPLATES / "reports", STATIC_REPORTS):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\n")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def content_hash(model: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the model, its language, format version and assets."""
    payload = {
        "format": REPORT_FORMAT_VERSION,
        "lang": model["lang"],
        "assets": assets_digest(),
        "model": model,
    }
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def report_id(model: dict[str, Any], digest: str) -> str:
    """The id printed on every page, e.g. ``KANSA-A42-1f3a9c0b``."""
    return f"KANSA-A{model['assessment']['id']}-{digest[:8]}"


def render_html(model: dict[str, Any], digest: str, generated_at: str, generated_iso: str) -> str:
    """The report's HTML; ``generated_*`` is the approval time for approved assessments."""
    words = labels(model["lang"])
    score = model["score"]
    chart = section_chart(model["sections"], score["bands"], words["t"]["none"])
    return (
        environment()
        .get_template(TEMPLATE)
        .render(
            m=model,
            a=model["assessment"],
            report_id=report_id(model, digest),
            content_hash=digest,
            generated_at=generated_at,
            generated_iso=generated_iso,
            chart=chart,
            **words,
        )
    )


def html_to_pdf(html: str, digest: str, fetcher: SafeFetcher | None = None) -> bytes:
    """Render HTML with WeasyPrint, fetching nothing but the report's own static files.

    WeasyPrint is imported here, not with the module: loading it takes most of a second,
    which every page request, worker and command would otherwise pay at start-up.
    """
    import weasyprint

    from .fetcher import SafeFetcher, base_url

    document = weasyprint.HTML(
        string=html,
        base_url=base_url(),
        url_fetcher=fetcher or SafeFetcher(),
        media_type="print",
    )
    pdf: bytes = document.write_pdf(pdf_identifier=digest[:32].encode("ascii"))
    return pdf


def render_pdf(model: dict[str, Any], digest: str, generated_at: str, generated_iso: str) -> bytes:
    """The PDF of a report model (HTML, then WeasyPrint)."""
    return html_to_pdf(render_html(model, digest, generated_at, generated_iso), digest)


def _filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
