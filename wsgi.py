"""Entry point for gunicorn and ``flask --app wsgi``."""

from audit import create_app
from audit.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a one-line reason instead of a traceback
    raise SystemExit(f"kansa: configuration error: {exc}") from None
