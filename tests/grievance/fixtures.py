"""Database fixtures shared by the grievance and flow tests (a pytest plugin, loaded by
``tests/conftest.py``).

Each test folder that uses them says which database they run on with a ``db_url`` fixture of
its own: the grievance tests on SQLite and PostgreSQL, the flow tests on SQLite.
"""

from __future__ import annotations

import pytest

from grievance.crypto import Vault
from grievance.db import make_session_factory
from tests.grievance.support import TEST_KEY, FakeClock, build_service, migrated_engine


@pytest.fixture
def engine(db_url: str):
    """The migrated database at ``db_url``."""
    engine = migrated_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def vault() -> Vault:
    return Vault(TEST_KEY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(session_factory, vault, clock):
    """The grievance service, with a cheap receipt-code hash."""
    return build_service(session_factory, vault, clock)
