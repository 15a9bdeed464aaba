"""Entry point for gunicorn and ``flask --app wsgi``."""

from audit import create_app

app = create_app()
