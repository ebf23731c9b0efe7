"""Fixtures of the grievance tests: every DB test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a server URL whose user may create
databases) or, when that is unset, from ``scripts/pg-test-server.sh``, which starts a
throwaway server on 127.0.0.1. Each test gets a database of its own. Set
``WORKRIGHT_SKIP_POSTGRES=1`` to skip the PostgreSQL half on a machine without it. The fixtures
built on ``db_url`` (engine, service ...) are in ``fixtures.py``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-server.sh"


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The admin URL of a PostgreSQL server for tests."""
    if os.environ.get("WORKRIGHT_SKIP_POSTGRES") == "1":
        pytest.skip("WORKRIGHT_SKIP_POSTGRES=1")
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    done = subprocess.run(
        ["bash", str(PG_SCRIPT)], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(
            f"could not start PostgreSQL with {PG_SCRIPT} (exit {done.returncode}):\n"
            f"{done.stderr[-2000:]}\nSet TEST_DATABASE_URL, or WORKRIGHT_SKIP_POSTGRES=1."
        )
    return done.stdout.strip().splitlines()[-1]


def _postgres_database(server_url: str) -> Iterator[str]:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"wr_test_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file under tmp_path, or a new PG database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'grievance.db'}"
    else:
        yield from _postgres_database(request.getfixturevalue("pg_server_url"))


@pytest.fixture
def moderator_id(service) -> int:
    return service.create_moderator("mod-a", role="moderator", password_hash="x")
