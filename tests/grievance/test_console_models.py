"""Migration 0003 builds exactly the console's tables, and goes down cleanly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from grievance import console_models  # noqa: F401 - registers the tables
from grievance.db import MIGRATIONS_DIR, Base, migrate

CONSOLE_TABLES = {"moderator_security", "login_failure", "console_setting", "question_stat"}


def _tables(item) -> set[str]:
    entry = item[0] if isinstance(item, list) else item
    names = set()
    for part in entry[1:]:
        table = getattr(part, "table", None)
        names.add(getattr(table, "name", None) or getattr(part, "name", None) or part)
    return {n for n in names if isinstance(n, str)}


def test_migrated_schema_matches_the_console_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [item for item in diff if _tables(item) & CONSOLE_TABLES] == []


def test_downgrade_to_0002_and_upgrade_again(engine):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    names = set(inspect(engine).get_table_names())
    assert not names & CONSOLE_TABLES and "moderator" in names
    migrate(engine)
    assert set(inspect(engine).get_table_names()) >= CONSOLE_TABLES
