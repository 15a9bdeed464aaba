"""Running Alembic from the application: the schema is created by migrations, nothing else."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from flask import Flask

from .config import ROOT


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url``, using ``migrations/``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    command.upgrade(alembic_config(app.config["DATABASE_URL"]), revision)


def upgrade_url(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current(app: Flask) -> None:
    command.current(alembic_config(app.config["DATABASE_URL"]), verbose=False)
