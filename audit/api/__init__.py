"""The REST API under /api/v1: flask-smorest blueprints over the same services as the pages.

Adding a resource: create ``audit/api/<name>.py`` with
``blp = ApiBlueprint("api_<name>", __name__, tag="<name>", description="...")`` and its
routes; ``register`` finds it (every module here with an ``ApiBlueprint`` named ``blp``), so
it gets token authentication, scopes, the JSON error shape, CSRF exemption and its place in
/api/v1/openapi.json and /api/v1/docs without further wiring.

This module stays light: ``audit.extensions`` imports ``audit.api.errors`` for the Api class.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from flask import Flask

from .errors import API_PREFIX

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
INFRASTRUCTURE = {"auth", "blueprint", "docs", "errors", "schemas", "support"}

SETTINGS: dict[str, Any] = {
    "API_TITLE": "Kansa API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "Audits of subcontractors against versioned checklists. Every "
            "endpoint needs a bearer token; see /api/v1/docs for scopes, errors, ETags and "
            "pagination."
        },
    },
}


def configure(app: Flask) -> None:
    """Put the API's settings in the app config (values already set are kept)."""
    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)


def resource_modules() -> list[str]:
    """The API modules to register: the core ones, then any other with a ``blp``."""
    found = sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in INFRASTRUCTURE
    )
    return [m for m in CORE_MODULES if m in found] + [m for m in found if m not in CORE_MODULES]


def register(app: Flask) -> None:
    """Register the API blueprints, the security scheme, the docs page and the error shape.

    Call after ``api.init_app(app)`` and after the web blueprints (their HTML error handlers
    are taught to answer JSON under /api/v1).
    """
    from ..extensions import api, csrf
    from .blueprint import ApiBlueprint
    from .docs import page
    from .errors import claim_app_error_handlers

    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kansa_…",
            "description": "An API token from the API tokens page or `flask tokens create`.",
        },
    )
    for name in resource_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        blp = getattr(module, "blp", None)
        if isinstance(blp, ApiBlueprint):
            csrf.exempt(blp)
            api.register_blueprint(blp)
    csrf.exempt(page)
    app.register_blueprint(page)
    claim_app_error_handlers(app)
