"""The REST API under /api/v1: flask-smorest blueprints over the same services as the pages.

Adding a resource: create ``audit/api/<name>.py`` with
``blp = ApiBlueprint("api_<name>", __name__, tag="<name>", description="...")`` and its
routes; ``init_app`` finds it (every module here with an ``ApiBlueprint`` named ``blp``), so
it gets token authentication, scopes, the JSON error shape, CSRF exemption and its place in
/api/v1/openapi.json and /api/v1/docs without further wiring. Then give each of its routes a
rule in ``tests/test_permission_matrix.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from flask import Flask

from .errors import API_PREFIX, json_error_for
from .spec import api

__all__ = ["api", "init_app", "json_error_for"]

# listed first, in this order, in the document; other modules follow by name
CORE_MODULES = (
    "me",
    "checklists",
    "subcontractors",
    "assessments",
    "answers",
    "evidence",
    "findings",
    "reports",
)
INFRASTRUCTURE = {
    "auth",
    "blueprint",
    "docs",
    "errors",
    "idempotency",
    "ratelimit",
    "schemas",
    "spec",
    "support",
}

SETTINGS: dict[str, Any] = {
    "API_TITLE": "Kansa API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        # every path of the document starts with /api/v1: the server is wherever it is served
        "servers": [{"url": "/", "description": "This Kansa server"}],
        "info": {
            "description": "Audits of subcontractors against versioned checklists. Every "
            "endpoint needs a bearer token; see /api/v1/docs for scopes, errors, ETags and "
            "pagination. Texts may not contain NUL characters (422). Every POST takes an "
            "Idempotency-Key header that makes retries safe; requests are rate-limited per "
            "token and, without a valid token, per address (429 with Retry-After). Paths in "
            "this document start with /api/v1, so the server is the site's own address."
        },
    },
}


def resource_modules() -> list[str]:
    """The API modules to register: the core ones, then any other with a ``blp``."""
    found = sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in INFRASTRUCTURE
    )
    return [m for m in CORE_MODULES if m in found] + [m for m in found if m not in CORE_MODULES]


def init_app(app: Flask) -> None:
    """Set up the API on ``app``: settings, blueprints, the security scheme, docs and tags.

    Call after the web blueprints are registered (their error pages defer to ``json_error_for``
    for API requests).
    """
    from ..extensions import csrf
    from .blueprint import ApiBlueprint
    from .docs import page
    from .ratelimit import init_app as init_rate_limits

    blueprints = []
    for name in resource_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        blp = getattr(module, "blp", None)
        if isinstance(blp, ApiBlueprint):
            blueprints.append(blp)
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    options = dict(app.config["API_SPEC_OPTIONS"])
    # the document's tags: one per resource, named by its tag (flask-smorest would use the
    # Flask blueprint names, api_assessments and so on); a top-level option replaces its list
    options["tags"] = _tags(blueprints)
    app.config["API_SPEC_OPTIONS"] = options

    init_rate_limits(app)
    api.init_app(app)
    api.document_pagination()
    api.document_guards()
    api.document_if_match()
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kansa_…",
            "description": "An API token from the API tokens page or `flask tokens create`.",
        },
    )
    for blp in blueprints:
        csrf.exempt(blp)
        api.register_blueprint(blp)
    csrf.exempt(page)
    app.register_blueprint(page)


def _tags(blueprints: list[Any]) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for blp in blueprints:
        if all(tag["name"] != blp.tag for tag in tags):
            tags.append({"name": blp.tag, "description": blp.description or ""})
    return tags
