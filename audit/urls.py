"""Where things are mounted: the REST API's prefix, telling an API request from a page, and
absolute links (under ``KANSA_BASE_URL`` when it is set, else the request's own host).

A leaf, so that the request log and the security headers can ask it without importing the API.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

#: Every REST API route lives under this path.
API_PREFIX = "/api/v1"


def is_api_request() -> bool:
    """Whether the current request is for the REST API (by path, so unknown URLs count too)."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint``, for documents read away from Kansa (OSCAL links).

    Under ``KANSA_BASE_URL`` (the address people reach this installation at, say
    ``https://kansa.example.co.jp``) when it is set, so links do not depend on the host a
    request came in through; otherwise the request's scheme and host (behind a proxy, those
    ``KANSA_PROXY_FIX`` trusts).
    """
    base = current_app.config.get("BASE_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    path = url_for(endpoint, **values)
    root = request.script_root
    if root and path.startswith(root):
        path = path[len(root) :]
    return str(base).rstrip("/") + path


def evidence_download_url(evidence_id: int) -> str:
    """The absolute API URL an evidence file is downloaded from (with a token)."""
    return external_url("api_evidence.download", evidence_id=evidence_id)
