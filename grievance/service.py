"""The grievance service: the one API the assistant and the moderator console use.

Every public method is one database transaction: it either happens completely or not at
all. Database faults surface as :class:`StorageUnavailable` (the worker is asked to try
again). Free text is encrypted before it reaches the database and decrypted only in the
values returned; nothing here logs text, codes or chat ids.
"""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    DateTime,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grievance import models as m
from grievance.codes import DEFAULT_HASH_COST, InvalidCode, check_cost, hash_code, new_code
from grievance.crypto import Vault
from grievance.db import as_utc, utcnow
from grievance.errors import (
    CaseNotFound,
    ContactNotAllowed,
    GrievanceError,
    InvalidTransition,
    ModeratorNotFound,
    StorageUnavailable,
    TooManyAttempts,
)
from grievance.values import (
    MAX_TEXT_CHARS,
    CaseDetail,
    CaseEventView,
    CaseFilter,
    CaseStatusView,
    CaseSummary,
    ErasureResult,
    NewReport,
    OpenedCase,
    WorkerReply,
)

__all__ = [
    "CaseDetail",
    "CaseEventView",
    "CaseFilter",
    "CaseStatusView",
    "CaseSummary",
    "ErasureResult",
    "GrievanceService",
    "NewReport",
    "OpenedCase",
    "WorkerReply",
]

logger = logging.getLogger(__name__)


def _affected(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE touched (``Session.execute`` is typed as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


ACKNOWLEDGE_WITHIN = timedelta(days=7)
FEEDBACK_WITHIN_MONTHS = 3
_URGENCY_RANK = {name: rank for rank, name in enumerate(m.URGENCIES)}
# A well-formed code that is hashed when the typed one is malformed, so that a garbled
# code costs the same time as a wrong one.
_DUMMY_CODE = "0000-0000-0000-0000"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months (31 January + 1 month = 28/29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class GrievanceService:
    """Opens cases, shows their status to workers, and lets moderators work them.

    Usage example::

        service = GrievanceService(make_session_factory(engine), vault)
        opened = service.open_case(NewReport(category="wages", urgency="ongoing",
                                             account="No pay for 3 months", worker_ref=ref))
        view = service.status_by_code(opened.receipt_code, user_ref=ref)
        service.acknowledge(opened.case_id, moderator_id=1)

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        vault: encrypts free text and derives the receipt-code salt.
        clock: returns the current tz-aware time (tests pass a fake clock).
        code_hash_cost: scrypt ``n`` for receipt codes (lower only in tests).
        attempt_limit: wrong receipt codes a worker may send per ``attempt_window``.
        attempt_window: the throttling window.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        vault: Vault,
        clock: Callable[[], datetime] = utcnow,
        *,
        code_hash_cost: int = DEFAULT_HASH_COST,
        attempt_limit: int = 5,
        attempt_window: timedelta = timedelta(minutes=15),
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

    @contextmanager
    def _tx(self, what: str) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            logger.warning("storage unavailable while trying to %s", what)
            raise StorageUnavailable(f"cannot {what}: the database is unavailable") from exc

    def _enc(self, text: str | None, column: str) -> str | None:
        return self._vault.encrypt_optional(text, context=column)

    def _dec(self, token: str | None, column: str) -> str | None:
        return self._vault.decrypt_optional(token, context=column)

    def _hash(self, code: str) -> str | None:
        """The stored hash of ``code``; None (after the same work) if it is malformed."""
        try:
            return hash_code(code, self._salt, cost=self._cost)
        except InvalidCode:
            hash_code(_DUMMY_CODE, self._salt, cost=self._cost)
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

    @staticmethod
    def _audit(
        session: Session,
        action: str,
        *,
        moderator_id: int | None,
        case_id: int | None,
        at: datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            m.AuditLog(
                moderator_id=moderator_id,
                action=action,
                case_id=case_id,
                details=json.dumps(details, sort_keys=True) if details else None,
                created_at=at,
            )
        )

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

    # -- workers ----------------------------------------------------------------------

    def open_case(self, report: NewReport, *, receipt_code: str | None = None) -> OpenedCase:
        """Save a report and its ``created`` event in one transaction.

        Args:
            report: what the worker reported.
            receipt_code: a code made earlier with :func:`grievance.codes.new_code` (the
                report flow makes it before confirming, so that a retried confirmation
                finds the same case instead of opening a second one). None makes a new one.

        Returns:
            The case id and the receipt code; ``created`` is False when this code's case
            was already saved for the same worker.

        Raises:
            StorageUnavailable: the database is unavailable; nothing was saved.
            GrievanceError: ``receipt_code`` belongs to another worker's case.
        """
        code = receipt_code or new_code()
        code_hash = self._hash(code)
        if code_hash is None:
            raise ValueError("receipt_code is not a well-formed receipt code")
        now = self._now()
        try:
            with self._tx("save the report") as session:
                existing = session.execute(
                    select(m.Case.id, m.Case.worker_ref).where(m.Case.code_hash == code_hash)
                ).one_or_none()
                if existing is not None:
                    if existing.worker_ref != report.worker_ref:
                        raise GrievanceError("this receipt code is already in use")
                    return OpenedCase(existing.id, code, created=False)
                row = m.Case(
                    code_hash=code_hash,
                    category=report.category,
                    urgency=report.urgency,
                    jurisdiction=report.jurisdiction,
                    lang=report.lang,
                    account_enc=self._enc(report.account, "case.account"),
                    employer_enc=self._enc(report.employer, "case.employer"),
                    location_enc=self._enc(report.location, "case.location"),
                    workers_affected_enc=self._enc(report.workers_affected, "case.workers"),
                    contact_consent=report.contact_consent,
                    worker_ref=report.worker_ref,
                    channel=report.channel if report.contact_consent else None,
                    chat_id_enc=self._enc(report.chat_id, "chat_id")
                    if report.contact_consent
                    else None,
                    status=m.NEW,
                    withdrawn=False,
                    acknowledge_due=now + ACKNOWLEDGE_WITHIN,
                    feedback_due=add_months(now, FEEDBACK_WITHIN_MONTHS),
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                self._event(session, row.id, "created", actor="worker", at=now)
                case_id = row.id
        except IntegrityError as exc:
            # Two deliveries of the same confirmation raced: the other one saved it.
            return self._existing(code, code_hash, report.worker_ref, exc)
        logger.info(
            "case %s opened (category=%s urgency=%s)", case_id, report.category, report.urgency
        )
        return OpenedCase(case_id, code)

    def _existing(
        self, code: str, code_hash: str, worker_ref: str | None, exc: Exception
    ) -> OpenedCase:
        with self._tx("read the report") as session:
            existing = session.execute(
                select(m.Case.id, m.Case.worker_ref).where(m.Case.code_hash == code_hash)
            ).one_or_none()
        if existing is None or existing.worker_ref != worker_ref:
            raise GrievanceError("the report could not be saved") from exc
        return OpenedCase(existing.id, code, created=False)

    def _verify_code(self, code: str, user_ref: str | None, what: str) -> str | None:
        """Check the throttle, then hash ``code``; None if it is malformed."""
        now = self._now()
        if user_ref is not None:
            with self._tx(what) as session:
                recent = session.execute(
                    select(func.count(m.StatusAttempt.id)).where(
                        m.StatusAttempt.user_ref == user_ref,
                        m.StatusAttempt.at > now - self._attempt_window,
                    )
                ).scalar_one()
            if recent >= self._attempt_limit:
                raise TooManyAttempts("too many wrong receipt codes; wait and try again")
        return self._hash(code)

    def _wrong_code(self, user_ref: str | None, what: str) -> CaseNotFound:
        if user_ref is not None:
            with self._tx(what) as session:
                session.add(m.StatusAttempt(user_ref=user_ref, at=self._now()))
        # One message for every failure: a wrong code and an unknown code look the same.
        return CaseNotFound("no case matches this receipt code")

    def status_by_code(self, code: str, *, user_ref: str | None) -> CaseStatusView:
        """What the holder of ``code`` may see: status, deadlines and moderators' replies.

        Args:
            code: the receipt code as the worker typed it.
            user_ref: the asking worker's pseudonym, for throttling (None: no throttle,
                e.g. a trusted internal caller).

        Raises:
            CaseNotFound: for any code that does not open a case (malformed, wrong, or
                purged), with the same message and the same work done.
            TooManyAttempts: after ``attempt_limit`` wrong codes in ``attempt_window``.
            StorageUnavailable: the database is unavailable.
        """
        code_hash = self._verify_code(code, user_ref, "check the report status")
        with self._tx("check the report status") as session:
            row = None
            if code_hash is not None:
                row = session.execute(
                    select(m.Case).where(m.Case.code_hash == code_hash)
                ).scalar_one_or_none()
            if row is not None:
                replies = session.execute(
                    select(m.CaseEvent.text_enc, m.CaseEvent.created_at)
                    .where(m.CaseEvent.case_id == row.id, m.CaseEvent.kind == "reply_sent")
                    .order_by(m.CaseEvent.id)
                ).all()
                view = CaseStatusView(
                    status=row.status,
                    category=row.category,
                    created_at=as_utc(row.created_at),
                    acknowledge_due=as_utc(row.acknowledge_due),
                    acknowledged_at=as_utc(row.acknowledged_at) if row.acknowledged_at else None,
                    withdrawn=row.withdrawn,
                    contact_allowed=self._contact_allowed(row),
                    replies=tuple(
                        WorkerReply(self._dec(r.text_enc, "event.text") or "", as_utc(r.created_at))
                        for r in replies
                        if r.text_enc is not None
                    ),
                )
        if row is None:
            raise self._wrong_code(user_ref, "check the report status")
        return view

    def add_worker_message(self, code: str, text: str, *, user_ref: str | None) -> int:
        """Add the worker's new information to the case that ``code`` opens.

        Returns:
            The case id (for the caller's bookkeeping; do not show it to the worker).

        Raises:
            CaseNotFound, TooManyAttempts, StorageUnavailable: as :meth:`status_by_code`.
            ValueError: if ``text`` is empty or longer than 100,000 characters.
        """
        if not text.strip():
            raise ValueError("text must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
        code_hash = self._verify_code(code, user_ref, "add to the report")
        now = self._now()
        case_id: int | None = None
        with self._tx("add to the report") as session:
            if code_hash is not None:
                case_id = session.execute(
                    select(m.Case.id).where(m.Case.code_hash == code_hash)
                ).scalar_one_or_none()
            if case_id is not None:
                self._event(
                    session,
                    case_id,
                    "worker_message",
                    actor="worker",
                    text_enc=self._enc(text, "event.text"),
                    at=now,
                )
                session.execute(update(m.Case).where(m.Case.id == case_id).values(updated_at=now))
        if case_id is None:
            raise self._wrong_code(user_ref, "add to the report")
        return case_id

    @staticmethod
    def _contact_allowed(row: m.Case) -> bool:
        return bool(row.contact_consent and row.worker_ref and row.chat_id_enc and row.channel)

    def erase_worker(self, user_ref: str, *, withdraw: bool) -> ErasureResult:
        """Detach a worker from their cases and erase their contact details (``/delete``).

        Args:
            user_ref: the worker's pseudonym.
            withdraw: also delete the text of their reports (account, employer, location,
                workers affected, every event text) and close them.

        Raises:
            StorageUnavailable: nothing was erased; ask the worker to try again.
        """
        now = self._now()
        with self._tx("erase the worker's data") as session:
            # A write first: on SQLite it takes the database's write lock for the whole
            # transaction, so no reply or new case can slip in between read and erase.
            session.execute(delete(m.StatusAttempt).where(m.StatusAttempt.user_ref == user_ref))
            case_rows = (
                session.execute(
                    select(m.Case).where(m.Case.worker_ref == user_ref).with_for_update()
                )
                .scalars()
                .all()
            )
            case_ids = [row.id for row in case_rows]
            dropped = _affected(
                session.execute(
                    delete(m.Outbox).where(
                        m.Outbox.status.in_((m.OUTBOX_PENDING, m.OUTBOX_SENDING, m.OUTBOX_FAILED)),
                        or_(m.Outbox.worker_ref == user_ref, m.Outbox.case_id.in_(case_ids)),
                    )
                )
            )
            # Sent rows keep no text or chat id, only that something was sent.
            session.execute(
                update(m.Outbox)
                .where(or_(m.Outbox.worker_ref == user_ref, m.Outbox.case_id.in_(case_ids)))
                .values(worker_ref=None, chat_id_enc=None, text_enc=None)
            )
            for row in case_rows:
                row.worker_ref = None
                row.chat_id_enc = None
                row.channel = None
                row.contact_consent = False
                row.updated_at = now
                self._event(session, row.id, "worker_detached", actor="worker", at=now)
                if withdraw:
                    self._withdraw(session, row, now)
            self._audit(
                session,
                "worker_erasure",
                moderator_id=None,
                case_id=None,
                at=now,
                details={"cases": len(case_ids), "withdraw": withdraw},
            )
        logger.info("worker erasure: %d case(s), withdraw=%s", len(case_ids), withdraw)
        return ErasureResult(
            cases_detached=len(case_ids),
            cases_withdrawn=len(case_ids) if withdraw else 0,
            outbox_dropped=dropped,
        )

    def _withdraw(self, session: Session, row: m.Case, now: datetime) -> None:
        row.account_enc = None
        row.employer_enc = None
        row.location_enc = None
        row.workers_affected_enc = None
        row.withdrawn = True
        previous = row.status
        if row.status != m.CLOSED:
            row.status = m.CLOSED
            row.closed_at = now
        # The one exception to append-only history: the worker's right to erasure.
        session.execute(
            update(m.CaseEvent).where(m.CaseEvent.case_id == row.id).values(text_enc=None)
        )
        self._event(
            session,
            row.id,
            "withdrawn",
            actor="worker",
            at=now,
            data={"from": previous, "to": m.CLOSED},
        )

    # -- moderators -------------------------------------------------------------------

    def create_moderator(
        self, name: str, *, role: str, password_hash: str, totp_secret: str | None = None
    ) -> int:
        """Add a moderator account (the console hashes the password and checks TOTP).

        Raises:
            ValueError: empty name, unknown role, or a name already taken.
        """
        if not name.strip():
            raise ValueError("moderator name must not be empty")
        if role not in m.ROLES:
            raise ValueError(f"role must be one of {', '.join(m.ROLES)}; got {role!r}")
        now = self._now()
        try:
            with self._tx("add a moderator") as session:
                row = m.Moderator(
                    name=name.strip(),
                    role=role,
                    password_hash=password_hash,
                    totp_secret_enc=self._enc(totp_secret, "moderator.totp"),
                    active=True,
                    created_at=now,
                )
                session.add(row)
                session.flush()
                self._audit(
                    session,
                    "moderator_created",
                    moderator_id=row.id,
                    case_id=None,
                    at=now,
                    details={"role": role},
                )
                return row.id
        except IntegrityError as exc:
            raise ValueError(f"moderator name {name!r} is already taken") from exc

    def acknowledge(self, case_id: int, moderator_id: int) -> None:
        """Mark a new case acknowledged (the 7-day deadline is met).

        Raises:
            CaseNotFound, ModeratorNotFound, InvalidTransition, StorageUnavailable.
        """
        self.change_status(case_id, moderator_id, m.ACKNOWLEDGED)

    def change_status(self, case_id: int, moderator_id: int, new_status: str) -> None:
        """Move a case along ``new -> acknowledged -> in_progress -> resolved | closed``.

        Raises:
            ValueError: ``new_status`` is not a status.
            InvalidTransition: the workflow does not allow this change.
            CaseNotFound, ModeratorNotFound, StorageUnavailable.
        """
        if new_status not in m.STATUSES:
            raise ValueError(f"status must be one of {', '.join(m.STATUSES)}; got {new_status!r}")
        now = self._now()
        with self._tx("change the case status") as session:
            self._moderator(session, moderator_id)
            row = self._case(session, case_id, lock=True)
            old = row.status
            if new_status not in m.TRANSITIONS[old]:
                allowed = ", ".join(sorted(m.TRANSITIONS[old])) or "none"
                raise InvalidTransition(
                    f"case {case_id}: cannot go from {old!r} to {new_status!r} (allowed: {allowed})"
                )
            values: dict[str, Any] = {
                "status": new_status,
                "updated_at": now,
                "closed_at": now if new_status in m.FINISHED_STATUSES else None,
            }
            if new_status == m.ACKNOWLEDGED:
                values["acknowledged_at"] = now
            # Conditional on the status we checked: two moderators acting at once cannot
            # both move the case (SQLite ignores FOR UPDATE, so this is the real guard).
            changed = _affected(
                session.execute(
                    update(m.Case)
                    .where(m.Case.id == case_id, m.Case.status == old)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            )
            if changed != 1:
                raise InvalidTransition(f"case {case_id}: its status changed meanwhile; reload")
            kind = "acknowledged" if new_status == m.ACKNOWLEDGED else "status_changed"
            change = {"from": old, "to": new_status}
            self._event(
                session,
                case_id,
                kind,
                actor="moderator",
                moderator_id=moderator_id,
                at=now,
                data=change,
            )
            self._audit(
                session, kind, moderator_id=moderator_id, case_id=case_id, at=now, details=change
            )

    def assign(self, case_id: int, moderator_id: int, assignee_id: int | None) -> None:
        """Give a case to ``assignee_id`` (None: unassign), as ``moderator_id``.

        Raises:
            CaseNotFound, ModeratorNotFound (actor or assignee), StorageUnavailable.
        """
        now = self._now()
        with self._tx("assign the case") as session:
            self._moderator(session, moderator_id)
            if assignee_id is not None:
                self._moderator(session, assignee_id)
            row = self._case(session, case_id, lock=True)
            change = {"from": row.assignee_id, "to": assignee_id}
            row.assignee_id = assignee_id
            row.updated_at = now
            self._event(
                session,
                case_id,
                "assigned",
                actor="moderator",
                moderator_id=moderator_id,
                at=now,
                data=change,
            )
            self._audit(
                session,
                "assigned",
                moderator_id=moderator_id,
                case_id=case_id,
                at=now,
                details=change,
            )

    def add_note(self, case_id: int, moderator_id: int, text: str) -> None:
        """Add an internal note (never shown to the worker).

        Raises:
            ValueError: empty or over-long text.
            CaseNotFound, ModeratorNotFound, StorageUnavailable.
        """
        self._check_text(text)
        now = self._now()
        with self._tx("add a note") as session:
            self._moderator(session, moderator_id)
            row = self._case(session, case_id)
            row.updated_at = now
            self._event(
                session,
                case_id,
                "note",
                actor="moderator",
                moderator_id=moderator_id,
                text_enc=self._enc(text, "event.text"),
                at=now,
            )
            self._audit(session, "note", moderator_id=moderator_id, case_id=case_id, at=now)

    def reply(self, case_id: int, moderator_id: int, text: str) -> int:
        """Reply to the worker: the case event and the outbox row commit together.

        Returns:
            The outbox row id.

        Raises:
            ContactNotAllowed: the worker declined contact or erased their contact details.
            ValueError: empty or over-long text.
            CaseNotFound, ModeratorNotFound, StorageUnavailable.
        """
        self._check_text(text)
        now = self._now()
        with self._tx("send the reply") as session:
            self._moderator(session, moderator_id)
            self._case(session, case_id, lock=True)
            # One statement copies the contact details only if the worker can still be
            # reached, so a concurrent /delete can never leave a chat id in the outbox.
            contactable = select(
                m.Case.id,
                m.Case.channel,
                m.Case.worker_ref,
                m.Case.chat_id_enc,
                literal(self._enc(text, "outbox.text")),
                literal(m.OUTBOX_PENDING),
                literal(0),
                literal(now, DateTime(timezone=True)),
                literal(now, DateTime(timezone=True)),
            ).where(
                m.Case.id == case_id,
                m.Case.contact_consent.is_(True),
                m.Case.worker_ref.is_not(None),
                m.Case.channel.is_not(None),
                m.Case.chat_id_enc.is_not(None),
            )
            outbox_id = session.execute(
                insert(m.Outbox)
                .from_select(
                    [
                        "case_id",
                        "channel",
                        "worker_ref",
                        "chat_id_enc",
                        "text_enc",
                        "status",
                        "attempts",
                        "next_attempt_at",
                        "created_at",
                    ],
                    contactable,
                )
                .returning(m.Outbox.id)
            ).scalar_one_or_none()
            if outbox_id is None:
                raise ContactNotAllowed(f"case {case_id}: the worker cannot be contacted")
            self._event(
                session,
                case_id,
                "reply_sent",
                actor="moderator",
                moderator_id=moderator_id,
                text_enc=self._enc(text, "event.text"),
                at=now,
            )
            session.execute(
                update(m.Case)
                .where(m.Case.id == case_id)
                .values(
                    updated_at=now,
                    feedback_at=func.coalesce(
                        m.Case.feedback_at, literal(now, DateTime(timezone=True))
                    ),
                )
                .execution_options(synchronize_session=False)
            )
            self._audit(
                session,
                "reply_sent",
                moderator_id=moderator_id,
                case_id=case_id,
                at=now,
                details={"outbox_id": outbox_id},
            )
            return int(outbox_id)

    @staticmethod
    def _check_text(text: str) -> None:
        if not text.strip():
            raise ValueError("text must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text has {len(text)} characters; at most {MAX_TEXT_CHARS}")

    # -- queries for moderators -------------------------------------------------------

    def _overdue_clause(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            and_(m.Case.status == m.NEW, m.Case.acknowledge_due < now),
            and_(
                m.Case.status.in_(m.OPEN_STATUSES),
                m.Case.feedback_at.is_(None),
                m.Case.feedback_due < now,
            ),
        )

    def _summary(self, row: m.Case, now: datetime) -> CaseSummary:
        ack_due, fb_due = as_utc(row.acknowledge_due), as_utc(row.feedback_due)
        deadline: datetime | None = None
        if row.status == m.NEW:
            deadline = ack_due
        elif row.status in m.OPEN_STATUSES and row.feedback_at is None:
            deadline = fb_due
        overdue = (row.status == m.NEW and ack_due < now) or (
            row.status in m.OPEN_STATUSES and row.feedback_at is None and fb_due < now
        )
        return CaseSummary(
            case_id=row.id,
            status=row.status,
            category=row.category,
            urgency=row.urgency,
            jurisdiction=row.jurisdiction,
            assignee_id=row.assignee_id,
            contact_allowed=self._contact_allowed(row),
            withdrawn=row.withdrawn,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            acknowledge_due=ack_due,
            feedback_due=fb_due,
            next_deadline=deadline,
            overdue=overdue,
        )

    def list_cases(self, filters: CaseFilter | None = None) -> list[CaseSummary]:
        """The moderators' queue: most urgent first, then the nearest deadline.

        Raises:
            StorageUnavailable: the database is unavailable.
        """
        f = filters or CaseFilter()
        now = self._now()
        query = select(m.Case)
        for column, value in (
            (m.Case.status, f.status),
            (m.Case.category, f.category),
            (m.Case.urgency, f.urgency),
            (m.Case.jurisdiction, f.jurisdiction),
            (m.Case.assignee_id, f.assignee_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if f.unassigned:
            query = query.where(m.Case.assignee_id.is_(None))
        if f.overdue is not None:
            clause = self._overdue_clause(now)
            query = query.where(clause if f.overdue else ~clause)
        urgency_rank = case(_URGENCY_RANK, value=m.Case.urgency, else_=len(_URGENCY_RANK))
        finished = case((m.Case.status.in_(m.FINISHED_STATUSES), 1), else_=0)
        deadline = case((m.Case.status == m.NEW, m.Case.acknowledge_due), else_=m.Case.feedback_due)
        query = (
            query.order_by(finished, urgency_rank, deadline, m.Case.id)
            .limit(f.limit)
            .offset(f.offset)
        )
        with self._tx("list cases") as session:
            rows = session.execute(query).scalars().all()
            return [self._summary(row, now) for row in rows]

    def overdue(self, limit: int = 1000) -> list[CaseSummary]:
        """Open cases past their acknowledgement or feedback deadline, most urgent first."""
        return self.list_cases(CaseFilter(overdue=True, limit=limit))

    def get_case(self, case_id: int, moderator_id: int) -> CaseDetail:
        """One case with its decrypted text and history; the viewing is audited.

        Raises:
            CaseNotFound, ModeratorNotFound, StorageUnavailable.
        """
        now = self._now()
        with self._tx("read the case") as session:
            self._moderator(session, moderator_id)
            row = self._case(session, case_id)
            events = (
                session.execute(
                    select(m.CaseEvent)
                    .where(m.CaseEvent.case_id == case_id)
                    .order_by(m.CaseEvent.id)
                )
                .scalars()
                .all()
            )
            self._audit(session, "view_case", moderator_id=moderator_id, case_id=case_id, at=now)
            return CaseDetail(
                summary=self._summary(row, now),
                account=self._dec(row.account_enc, "case.account"),
                employer=self._dec(row.employer_enc, "case.employer"),
                location=self._dec(row.location_enc, "case.location"),
                workers_affected=self._dec(row.workers_affected_enc, "case.workers"),
                lang=row.lang,
                channel=row.channel,
                events=tuple(
                    CaseEventView(
                        event_id=e.id,
                        kind=e.kind,
                        actor=e.actor,
                        moderator_id=e.moderator_id,
                        text=self._dec(e.text_enc, "event.text"),
                        data=json.loads(e.data) if e.data else {},
                        created_at=as_utc(e.created_at),
                    )
                    for e in events
                ),
            )

    def export_rows(
        self,
        moderator_id: int,
        filters: CaseFilter | None = None,
        *,
        include_text: bool = False,
    ) -> list[dict[str, str]]:
        """Rows for a CSV export; free text only when ``include_text`` is asked for.

        The export is audited with its size and whether text was included.

        Raises:
            ModeratorNotFound, StorageUnavailable.
        """
        summaries = self.list_cases(filters or CaseFilter(limit=10_000))
        now = self._now()
        rows: list[dict[str, str]] = []
        with self._tx("export cases") as session:
            self._moderator(session, moderator_id)
            texts: dict[int, m.Case] = {}
            if include_text and summaries:
                ids = [s.case_id for s in summaries]
                texts = {
                    c.id: c
                    for c in session.execute(select(m.Case).where(m.Case.id.in_(ids))).scalars()
                }
            for summary in summaries:
                row = {
                    key: "" if value is None else str(value)
                    for key, value in asdict(summary).items()
                }
                if include_text:
                    c = texts[summary.case_id]
                    for key, token, column in (
                        ("employer", c.employer_enc, "case.employer"),
                        ("location", c.location_enc, "case.location"),
                        ("workers_affected", c.workers_affected_enc, "case.workers"),
                        ("account", c.account_enc, "case.account"),
                    ):
                        row[key] = self._dec(token, column) or ""
                rows.append(row)
            self._audit(
                session,
                "export",
                moderator_id=moderator_id,
                case_id=None,
                at=now,
                details={"rows": len(rows), "include_text": include_text},
            )
        return rows

    # -- retention --------------------------------------------------------------------

    def purge(self, retention_days: int) -> int:
        """Delete resolved/closed cases finished more than ``retention_days`` ago.

        Their events and outbox rows go with them; the audit log keeps that they existed.
        Old throttling records go too.

        Returns:
            How many cases were deleted.

        Raises:
            ValueError: ``retention_days`` < 0.
            StorageUnavailable: nothing was deleted.
        """
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, got {retention_days}")
        now = self._now()
        cutoff = now - timedelta(days=retention_days)
        with self._tx("purge old cases") as session:
            ids = list(
                session.execute(
                    select(m.Case.id).where(
                        m.Case.status.in_(m.FINISHED_STATUSES), m.Case.closed_at < cutoff
                    )
                ).scalars()
            )
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                session.execute(delete(m.CaseEvent).where(m.CaseEvent.case_id.in_(chunk)))
                session.execute(delete(m.Outbox).where(m.Outbox.case_id.in_(chunk)))
                session.execute(delete(m.Case).where(m.Case.id.in_(chunk)))
            session.execute(
                delete(m.StatusAttempt).where(m.StatusAttempt.at < now - self._attempt_window)
            )
            self._audit(
                session,
                "purge",
                moderator_id=None,
                case_id=None,
                at=now,
                details={"cases": len(ids), "retention_days": retention_days},
            )
        logger.info("purged %d finished case(s)", len(ids))
        return len(ids)

    def count_cases(self) -> int:
        """How many cases are stored (for stats and benchmarks)."""
        with self._tx("count cases") as session:
            return int(session.execute(select(func.count(m.Case.id))).scalar_one())
