"""The grievance service: the one API the assistant and the moderator console use.

Every public method is one database transaction: it either happens completely or not at
all. Database faults surface as :class:`StorageUnavailable` (the worker is asked to try
again). Free text is encrypted before it reaches the database and decrypted only in the
values returned; nothing here logs text, codes or chat ids.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grievance import models as m
from grievance._core import ACKNOWLEDGE_WITHIN, FEEDBACK_WITHIN_MONTHS, add_months, affected
from grievance.codes import new_code
from grievance.db import as_utc
from grievance.errors import CaseNotFound, GrievanceError, TooManyAttempts
from grievance.moderation import ModeratorActions
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


class GrievanceService(ModeratorActions):
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
        reply_header: makes the line put before a moderator's reply to a worker (see
            :data:`grievance._core.ReplyHeader`); None sends the reply as written.
    """

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
            dropped = affected(
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
