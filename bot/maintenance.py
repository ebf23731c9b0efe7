"""``workright maintenance``: retention — purge stale conversation state and old closed cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.config import Settings
from grievance.conversations import ConversationStore
from grievance.db import make_engine, make_session_factory, migrate, utcnow


def run_maintenance(settings: Settings) -> dict[str, Any]:
    """Apply the retention settings; return what was purged."""
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        sessions = make_session_factory(engine)
        vault = settings.open_vault()
        cutoff = utcnow() - timedelta(days=settings.privacy.conversation_retention_days)
        result: dict[str, Any] = {
            "conversations_purged": ConversationStore(sessions, vault).purge_stale(cutoff)
        }
        try:
            from grievance.service import GrievanceService
        except ImportError:
            return result
        service = GrievanceService(sessions, vault)
        result["closed_cases_purged"] = service.purge(settings.privacy.closed_case_retention_days)
        return result
    finally:
        engine.dispose()
