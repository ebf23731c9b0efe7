"""Fixtures shared by the channel tests."""

import pytest

from grievance.db import make_session_factory
from tests.grievance.support import migrated_engine


@pytest.fixture
def sessions(tmp_path):
    """Database sessions on a migrated SQLite file of this test's own."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'channel.db'}")
    yield make_session_factory(engine)
    engine.dispose()
