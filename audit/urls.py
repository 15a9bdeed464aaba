"""Where things are mounted: the REST API's prefix, and telling an API request from a page.

A leaf, so that the request log and the security headers can ask it without importing the API.
"""

from __future__ import annotations

from flask import request

#: Every REST API route lives under this path.
API_PREFIX = "/api/v1"


def is_api_request() -> bool:
    """Whether the current request is for the REST API (by path, so unknown URLs count too)."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")
