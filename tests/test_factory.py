import pytest

from audit import create_app
from audit.config import ConfigError, from_environment


def test_config_passed_to_factory_wins(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret-key"


def test_missing_secret_key_outside_debug_is_a_start_up_error(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_debug_runs_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})
    assert app.debug


def test_settings_come_from_the_environment(tmp_path):
    env = {
        "SECRET_KEY": "s3cret",
        "DATABASE_URL": "postgresql+psycopg://kansa@db.example/kansa",
        "KANSA_MAX_UPLOAD_MB": "5",
    }
    config = from_environment(str(tmp_path), env)
    assert config["SECRET_KEY"] == "s3cret"
    assert config["DATABASE_URL"] == env["DATABASE_URL"]
    assert config["MAX_EVIDENCE_BYTES"] == 5 * 1024 * 1024


def test_default_database_is_sqlite_under_instance(tmp_path):
    config = from_environment(str(tmp_path), {})
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path}/kansa.sqlite3"
    assert config["MAX_EVIDENCE_BYTES"] == 20 * 1024 * 1024


def test_bad_number_in_environment_is_named(tmp_path):
    with pytest.raises(ConfigError, match="KANSA_MAX_UPLOAD_MB must be a whole number"):
        from_environment(str(tmp_path), {"KANSA_MAX_UPLOAD_MB": "lots"})


def test_libpq_url_without_psycopg_driver_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="postgresql\\+psycopg"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "postgresql://u@h/d"})


def _pragma(app, name: str):
    import sqlalchemy as sa

    from audit.extensions import db

    with db.engine_for(app).connect() as conn:
        return conn.execute(sa.text(f"PRAGMA {name}")).scalar()


def test_sqlite_syncs_every_commit_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("KANSA_SQLITE_SYNCHRONOUS", raising=False)
    settings = {"SECRET_KEY": "k", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
    default = create_app(settings)
    assert default.config["SQLITE_SYNCHRONOUS"] == "FULL"
    assert _pragma(default, "synchronous") == 2  # FULL
    assert _pragma(default, "journal_mode") == "wal"
    monkeypatch.setenv("KANSA_SQLITE_SYNCHRONOUS", "normal")
    assert _pragma(create_app(settings), "synchronous") == 1  # NORMAL
    monkeypatch.setenv("KANSA_SQLITE_SYNCHRONOUS", "sometimes")
    with pytest.raises(ConfigError, match="KANSA_SQLITE_SYNCHRONOUS is 'SOMETIMES'"):
        create_app(settings)


def test_base_url_is_read_and_a_bad_one_refused(tmp_path):
    config = from_environment(str(tmp_path), {"KANSA_BASE_URL": " https://kansa.example.co.jp/ "})
    assert config["BASE_URL"] == "https://kansa.example.co.jp"
    assert from_environment(str(tmp_path), {})["BASE_URL"] is None
    for bad in ("kansa.example.co.jp", "ftp://kansa.example", "https://kansa.example/?x=1"):
        with pytest.raises(ConfigError, match="KANSA_BASE_URL"):
            create_app({"TESTING": True, "SECRET_KEY": "x", "BASE_URL": bad})
