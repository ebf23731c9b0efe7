"""Database engine, declarative base and migrations (SQLAlchemy 2 + Alembic).

SQLite (WAL) is the embedded default; any SQLAlchemy URL works, PostgreSQL included.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from grievance.errors import StorageUnavailable

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    """Declarative base of every table."""


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a timestamp read back from SQLite (which drops the zone) aware again."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url``; for SQLite, create the folder and turn on WAL.

    Args:
        url: a SQLAlchemy URL, e.g. ``sqlite:///var/workright.db`` or
            ``postgresql+psycopg://user@127.0.0.1/workright``.
        echo: log SQL statements (never in production: they carry parameters).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while a report is being written; synchronous=FULL
    # because a report acknowledged to a worker must survive a power cut.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


@contextmanager
def transaction(sessions: sessionmaker[Session], what: str) -> Iterator[Session]:
    """A session in a transaction; database faults become :class:`StorageUnavailable`.

    Args:
        sessions: the session factory.
        what: what is being done, for the log and the error ("open a case").
    """
    try:
        with sessions.begin() as session:
            yield session
    except (OperationalError, InterfaceError) as exc:
        logger.warning("storage unavailable while trying to %s", what)
        raise StorageUnavailable(f"cannot {what}: the database is unavailable") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Any]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
