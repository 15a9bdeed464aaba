"""Kansa: audits of subcontractors' security governance against versioned checklists."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import config as settings
from . import request_log
from .extensions import csrf, db, login_manager

ROOT = settings.ROOT


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing absurdly nested documents as bad input instead of crashing."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON document is nested too deeply") from None


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: settings from the environment, then ``config`` on top."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "audit" / "static"),
    )
    app.json = SafeJSONProvider(app)
    app.config.from_mapping(settings.from_environment(app.instance_path))
    if config:
        app.config.update(config)
    settings.check(app.config, app.debug)
    os.makedirs(app.instance_path, exist_ok=True)

    if app.config.get("PROXY_FIX"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"

    from . import security

    security.init_app(app)
    request_log.init_app(app)

    from . import api, web

    web.register(app, errors_elsewhere=api.json_error_for)
    api.init_app(app)

    from .cli import register as register_cli

    register_cli(app)
    return app
