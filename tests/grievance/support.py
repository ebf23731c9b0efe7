"""Helpers shared by the grievance and flow tests: a settable clock and service builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from grievance.codes import MIN_HASH_COST
from grievance.crypto import Vault
from grievance.db import make_engine, make_session_factory, migrate
from grievance.service import GrievanceService

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TEST_KEY = bytes(range(32))


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def build_service(session_factory, vault: Vault, clock: FakeClock | None = None, **kwargs):
    """A service with a cheap receipt-code hash (tests only)."""
    kwargs.setdefault("code_hash_cost", MIN_HASH_COST)
    return GrievanceService(session_factory, vault, clock or FakeClock(), **kwargs)


def migrated_engine(url: str):
    engine = make_engine(url)
    migrate(engine)
    return engine


__all__ = ["START", "TEST_KEY", "FakeClock", "build_service", "make_session_factory",
           "migrated_engine"]
