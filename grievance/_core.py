"""The plumbing shared by the grievance service's halves: transactions, encryption, events."""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session, sessionmaker

from grievance import models as m
from grievance.codes import DEFAULT_HASH_COST, InvalidCode, check_cost, hash_code
from grievance.crypto import Vault
from grievance.db import as_utc, transaction, utcnow
from grievance.errors import CaseNotFound, ModeratorNotFound
from grievance.values import MAX_TEXT_CHARS

logger = logging.getLogger(__name__)


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE touched (``Session.execute`` is typed as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


ACKNOWLEDGE_WITHIN = timedelta(days=7)
FEEDBACK_WITHIN_MONTHS = 3
URGENCY_RANK = {name: rank for rank, name in enumerate(m.URGENCIES)}
# A well-formed code that is hashed when the typed one is malformed, so that a garbled
# code costs the same time as a wrong one.
DUMMY_CODE = "0000-0000-0000-0000"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months (31 January + 1 month = 28/29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_audit(
    session: Session,
    action: str,
    *,
    moderator_id: int | None,
    case_id: int | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit-log row (who, what, which case, when; details never hold free text)."""
    session.add(
        m.AuditLog(
            moderator_id=moderator_id,
            action=action,
            case_id=case_id,
            details=json.dumps(details, sort_keys=True) if details else None,
            created_at=at,
        )
    )


#: Makes the line put before a moderator's reply, from the case's language (None when the
#: report did not record one), category and the day it was reported.
ReplyHeader = Callable[[str | None, str, date], str]


class ServiceCore:
    """Transactions, encryption and history helpers; see :class:`GrievanceService`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        vault: Vault,
        clock: Callable[[], datetime] = utcnow,
        *,
        code_hash_cost: int = DEFAULT_HASH_COST,
        attempt_limit: int = 5,
        attempt_window: timedelta = timedelta(minutes=15),
        reply_header: ReplyHeader | None = None,
    ) -> None:
        check_cost(code_hash_cost)
        if attempt_limit < 1:
            raise ValueError(f"attempt_limit must be >= 1, got {attempt_limit}")
        if attempt_window <= timedelta(0):
            raise ValueError(f"attempt_window must be positive, got {attempt_window}")
        self._sessions = session_factory
        self._vault = vault
        self._clock = clock
        self._cost = code_hash_cost
        self._salt = vault.subkey("receipt-code")
        self._attempt_limit = attempt_limit
        self._attempt_window = attempt_window
        self._reply_header = reply_header

    @property
    def backend_name(self) -> str:
        """The database dialect (``sqlite``, ``postgresql``), for benchmarks and stats."""
        bind = self._sessions.kw.get("bind")
        return str(bind.dialect.name) if bind is not None else "unknown"

    @property
    def code_hash_cost(self) -> int:
        """The scrypt ``n`` used for receipt codes."""
        return self._cost

    # -- plumbing ---------------------------------------------------------------------

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _tx(self, what: str) -> AbstractContextManager[Session]:
        return transaction(self._sessions, what)

    def _enc(self, text: str | None, column: str) -> str | None:
        return self._vault.encrypt_optional(text, context=column)

    def _dec(self, token: str | None, column: str) -> str | None:
        return self._vault.decrypt_optional(token, context=column)

    def _hash(self, code: str) -> str | None:
        """The stored hash of ``code``; None (after the same work) if it is malformed."""
        try:
            return hash_code(code, self._salt, cost=self._cost)
        except InvalidCode:
            hash_code(DUMMY_CODE, self._salt, cost=self._cost)
            return None

    @staticmethod
    def _event(
        session: Session,
        case_id: int,
        kind: str,
        *,
        actor: str,
        moderator_id: int | None = None,
        text_enc: str | None = None,
        data: dict[str, Any] | None = None,
        at: datetime,
    ) -> None:
        session.add(
            m.CaseEvent(
                case_id=case_id,
                kind=kind,
                actor=actor,
                moderator_id=moderator_id,
                text_enc=text_enc,
                data=json.dumps(data, sort_keys=True) if data else None,
                created_at=at,
            )
        )

    _audit = staticmethod(add_audit)

    @staticmethod
    def _case(session: Session, case_id: int, *, lock: bool = False) -> m.Case:
        query = select(m.Case).where(m.Case.id == case_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            raise CaseNotFound(f"no case with id {case_id}")
        return row

    @staticmethod
    def _moderator(session: Session, moderator_id: int) -> m.Moderator:
        row = session.get(m.Moderator, moderator_id)
        if row is None or not row.active:
            raise ModeratorNotFound(f"no active moderator with id {moderator_id}")
        return row

    @staticmethod
    def _contact_allowed(row: m.Case) -> bool:
        return bool(row.contact_consent and row.worker_ref and row.chat_id_enc and row.channel)

    @staticmethod
    def _check_text(text: str) -> None:
        if not text.strip():
            raise ValueError("text must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
