"""The Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from grievance import models  # noqa: F401 - registers the tables
from grievance.conversations import Conversation  # noqa: F401
from grievance.db import MIGRATIONS_DIR, Base, migrate

GRIEVANCE_TABLES = {"grievance_case", "case_event", "moderator", "outbox", "audit_log",
                    "status_attempt"}


def _table_of(item) -> str | None:
    """The table a diff entry of ``compare_metadata`` is about."""
    entry = item[0] if isinstance(item, list) else item
    for part in entry[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if isinstance(part, str) and part in GRIEVANCE_TABLES:
            return part
        if name in GRIEVANCE_TABLES:
            return name
    return None


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Only this revision's tables (0001's indexes are not declared on its models).
    mine = [item for item in diff if _table_of(item) in GRIEVANCE_TABLES]
    assert mine == []


def test_downgrade_and_upgrade_again(engine):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    assert "grievance_case" not in inspect(engine).get_table_names()
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= GRIEVANCE_TABLES
