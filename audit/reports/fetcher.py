"""The report renderer's only URL fetcher: files under ``audit/static/reports/``, nothing else.

User text is escaped before it reaches the HTML, so it can never become a tag or a CSS
``url()``; this fetcher is the second wall. Whatever URL WeasyPrint asks for (``http:``,
``https:``, ``ftp:``, ``data:``, or a ``file:`` path outside the folder, including ``..``
and symbolic-link escapes), it refuses without opening a socket or a file, and keeps the
refused URL in ``refused`` so that tests and logs can see the attempt.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..config import STATIC_REPORTS


class RefusedURL(ValueError):
    """The renderer asked for something other than one of the report's own static files."""


class SafeFetcher(URLFetcher):
    """Serve files under ``root`` to WeasyPrint and refuse every other URL."""

    def __init__(self, root: Path = STATIC_REPORTS) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()
        self.fetched: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        """The file's bytes, or ``RefusedURL`` (WeasyPrint then skips the resource)."""
        path = self.path_for(url)
        if path is None:
            self.refused.append(url[:200])
            raise RefusedURL(f"report renderer refused {url[:200]!r}: not a report asset")
        self.fetched.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )

    def path_for(self, url: str) -> Path | None:
        """The file under ``root`` that ``url`` names, or None for anything else."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return None
        if parts.query or "\x00" in url:
            return None
        try:
            path = Path(unquote(parts.path)).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path


def base_url(root: Path = STATIC_REPORTS) -> str:
    """The base URL of the report HTML: the static folder as a ``file:`` URL ending in ``/``."""
    return root.resolve().as_uri() + "/"
