"""Database locked or gone: StorageUnavailable, and nothing half-written."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url

from grievance import models as m
from grievance.db import make_session_factory
from grievance.errors import StorageUnavailable
from grievance.service import NewReport
from tests.grievance.support import build_service


def report() -> NewReport:
    return NewReport(category="wages", urgency="ongoing", account="unpaid", contact_consent=True,
                     worker_ref="w1", channel="telegram", chat_id="42")


def impatient_engine(db_url: str):
    """An engine that gives up on a lock after ~0.2 s instead of 15 s."""
    if make_url(db_url).get_backend_name() == "sqlite":
        engine = create_engine(db_url, connect_args={"timeout": 0.2})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=200")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(db_url, connect_args={"options": "-c lock_timeout=200"})


@contextmanager
def database_locked(db_url: str):
    """Another process holds the write lock (SQLite) or a table lock (PostgreSQL)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    other = create_engine(db_url)
    try:
        with other.connect() as conn:
            conn.execute(text("BEGIN"))
            for table in ("grievance_case", "case_event", "outbox", "status_attempt"):
                conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            yield
            conn.execute(text("ROLLBACK"))
    finally:
        other.dispose()


def counts(session_factory):
    with session_factory() as session:
        return tuple(
            len(session.execute(select(model.id)).all())
            for model in (m.Case, m.CaseEvent, m.Outbox, m.AuditLog)
        )


def test_locked_database_on_open_case(engine, db_url, vault, clock, session_factory):
    locked = impatient_engine(db_url)
    try:
        service = build_service(make_session_factory(locked), vault, clock)
        before = counts(session_factory)
        with database_locked(db_url), pytest.raises(StorageUnavailable, match="try|unavailable"):
            service.open_case(report())
        assert counts(session_factory) == before
        # Once the lock is gone the same call works.
        service.open_case(report())
        assert counts(session_factory)[0] == before[0] + 1
    finally:
        locked.dispose()


def test_locked_database_on_reply_writes_neither_event_nor_outbox(
    engine, db_url, vault, clock, session_factory, service, moderator_id
):
    case_id, _ = service.open_case(report())
    locked = impatient_engine(db_url)
    try:
        impatient = build_service(make_session_factory(locked), vault, clock)
        before = counts(session_factory)
        with database_locked(db_url), pytest.raises(StorageUnavailable):
            impatient.reply(case_id, moderator_id, "hello")
        assert counts(session_factory) == before
    finally:
        locked.dispose()


def test_database_gone(db_url, tmp_path, vault, clock):
    if make_url(db_url).get_backend_name() == "sqlite":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        gone_url = f"sqlite:///{blocker / 'grievance.db'}"
    else:
        # Nothing listens on port 1.
        gone_url = make_url(db_url).set(port=1).render_as_string(hide_password=False)
    gone = create_engine(gone_url)
    try:
        service = build_service(make_session_factory(gone), vault, clock)
        with pytest.raises(StorageUnavailable):
            service.open_case(report())
        with pytest.raises(StorageUnavailable):
            service.status_by_code("7K4P-2M9Q-XR3T-8WJD", user_ref="u")
        with pytest.raises(StorageUnavailable):
            service.list_cases()
    finally:
        gone.dispose()


def test_service_recovers_after_postgres_drops_connections(db_url, engine, service):
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only")
    service.open_case(report())
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        admin.dispose()
    # pool_pre_ping notices the dead connections and opens new ones.
    service.open_case(report())
    assert service.count_cases() == 2
