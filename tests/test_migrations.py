"""The schema comes only from Alembic, and the migrations match the models exactly."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from audit.migrate import alembic_config
from audit.models import metadata
from tests.conftest import ENGINE


def test_upgrade_from_empty_gives_exactly_the_models(database_url):
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ on {ENGINE}: {diff}"


def test_database_is_at_head(database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    engine.dispose()
    assert set(current) == set(script.get_heads())
    assert len(script.get_heads()) == 1, "migrations have branched: merge the heads"


def test_every_table_and_constraint_exists(database_url):
    engine = sa.create_engine(database_url)
    inspector = sa.inspect(engine)
    tables = set(inspector.get_table_names())
    assert set(metadata.tables) <= tables
    uniques = {
        tuple(u["column_names"]) for u in inspector.get_unique_constraints("checklist_version")
    }
    assert ("checklist_id", "version") in uniques
    answer_uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("answer")}
    assert ("assessment_id", "item_id") in answer_uniques
    fks = {fk["referred_table"] for fk in inspector.get_foreign_keys("assessment")}
    assert {"subcontractor", "checklist_version", "user_account"} <= fks
    checks = {c["name"] for c in inspector.get_check_constraints("assessment")}
    assert "ck_assessment_state" in checks
    engine.dispose()
