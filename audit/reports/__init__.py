"""PDF reports of assessments: a plain report model, an autoescaped template, WeasyPrint.

``data.build`` reads the model, ``render.content_hash`` names it, ``render.render_pdf`` draws it
with a URL fetcher (``fetcher.SafeFetcher``) that can reach nothing but the report's own
static files. ``service.report`` is the use case the pages and the API call: who may read a
report, and the cache of approved ones.
"""

from .data import REPORT_FORMAT_VERSION, build
from .labels import LANGS
from .render import content_hash, render_html, render_pdf, report_id

__all__ = [
    "LANGS",
    "REPORT_FORMAT_VERSION",
    "build",
    "content_hash",
    "render_html",
    "render_pdf",
    "report_id",
]
