"""Delivering moderators' replies: a push sender per channel, and pull delivery for the web.

:meth:`GrievanceService.reply` writes the reply into the ``outbox`` table in the same
transaction as its case event. For a push channel (Telegram, WeChat) an
:class:`OutboxSender` drains that table: it *claims* a row with a conditional UPDATE (so
two sender processes never both take it), delivers it outside any transaction, then marks
it sent, or schedules a retry with exponential backoff. For the web chat, which cannot be
pushed to, the page polls: :class:`PullOutbox` leases the pending replies to it and marks
them sent when the page acknowledges them, so a response lost on a bad connection is
fetched again after the lease.

Delivery is at-least-once only across a crash: a sender killed between delivering and
marking leaves the row claimed, and after the lease expires another sender sends it again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grievance import models as m
from grievance.crypto import Vault
from grievance.db import as_utc, utcnow
from grievance.errors import GrievanceError, StorageUnavailable

logger = logging.getLogger(__name__)


def _affected(result: Result[Any]) -> int:
    """Rows an UPDATE/DELETE touched (``Session.execute`` is typed as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


#: A channel's send function: ``deliver(chat_id, text)``; raises :class:`DeliveryError`.
Deliver = Callable[[str, str], None]


class DeliveryError(GrievanceError):
    """A channel could not deliver a message.

    Args:
        reason: a short code for the log and the outbox row (``"timeout"``,
            ``"http 502"``, ``"blocked"``); never the message text or the chat id.
        retry_after: seconds the channel asked us to wait (Telegram's ``RetryAfter``).
        permanent: True when retrying cannot help (the worker blocked the bot).
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class SendReport:
    """What one :meth:`OutboxSender.run_once` pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A reply handed to the web page by :meth:`PullOutbox.pending_for` (acknowledged by its
    ``outbox_id``)."""

    outbox_id: int
    case_id: int | None
    text: str
    created_at: datetime


def _storage_error() -> StorageUnavailable:
    return StorageUnavailable("the outbox database is unavailable")


class OutboxSender:
    """Delivers due outbox rows of one channel, with retries and exponential backoff.

    Usage example::

        sender = OutboxSender(session_factory, vault, "telegram", deliver=send_telegram)
        report = sender.run_once()            # from a cron job or a test
        await sender.run_forever(stop_event)  # in a server's lifespan

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        vault: decrypts chat ids and texts.
        channel: which rows this sender owns (``"telegram"``, ``"wechat"`` ...).
        deliver: the channel's send function; a synchronous call that raises
            :class:`DeliveryError` on failure (any other exception counts as transient).
        clock: the current tz-aware time.
        max_attempts: after this many failures the row is ``failed`` and the case gets a
            ``delivery_failed`` event for moderators.
        base_delay: the wait after the first failure; doubled after each further one.
        max_delay: the longest wait between attempts.
        lease: how long a claim lasts before another sender may take the row over.
        batch_size: rows per pass.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        vault: Vault,
        channel: str,
        deliver: Deliver,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=6),
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 50,
    ) -> None:
        if not channel:
            raise ValueError("channel must be a non-empty string")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if base_delay <= timedelta(0) or max_delay < base_delay:
            raise ValueError(f"need 0 < base_delay <= max_delay, got {base_delay} and {max_delay}")
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._sessions = session_factory
        self._vault = vault
        self.channel = channel
        self._deliver = deliver
        self._clock = clock
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._lease = lease
        self._batch = batch_size

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _due(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            m.Outbox.channel == self.channel,
            or_(
                and_(m.Outbox.status == m.OUTBOX_PENDING, m.Outbox.next_attempt_at <= now),
                # A sender that died mid-delivery leaves its claim behind; take it over.
                and_(m.Outbox.status == m.OUTBOX_SENDING, m.Outbox.claimed_until < now),
            ),
        )

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait before the next attempt after ``attempts`` failures."""
        delay: timedelta = min(self._base_delay * (2 ** max(attempts - 1, 0)), self._max_delay)
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    def run_once(self) -> SendReport:
        """Deliver every due row of this channel once (up to ``batch_size``).

        Raises:
            StorageUnavailable: the database is unavailable (nothing is lost: rows stay).
        """
        now = self._now()
        try:
            with self._sessions() as session:
                ids = list(
                    session.execute(
                        select(m.Outbox.id)
                        .where(self._due(now))
                        .order_by(m.Outbox.next_attempt_at, m.Outbox.id)
                        .limit(self._batch)
                    ).scalars()
                )
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc
        sent = retried = failed = 0
        for outbox_id in ids:
            outcome = self._send_one(outbox_id)
            sent += outcome == "sent"
            retried += outcome == "retry"
            failed += outcome == "failed"
        if ids:
            logger.info(
                "outbox %s: sent=%d retried=%d failed=%d", self.channel, sent, retried, failed
            )
        return SendReport(sent=sent, retried=retried, failed=failed)

    def _claim(self, outbox_id: int) -> tuple[str, m.Outbox] | None:
        now = self._now()
        token = secrets.token_hex(8)
        try:
            with self._sessions.begin() as session:
                claimed = _affected(
                    session.execute(
                        update(m.Outbox)
                        .where(m.Outbox.id == outbox_id, self._due(now))
                        .values(
                            status=m.OUTBOX_SENDING,
                            claim_token=token,
                            claimed_until=now + self._lease,
                            attempts=m.Outbox.attempts + 1,
                        )
                        .execution_options(synchronize_session=False)
                    )
                )
                if claimed != 1:
                    return None  # another sender took it
                row = session.get(m.Outbox, outbox_id, populate_existing=True)
                assert row is not None
                session.expunge(row)
                return token, row
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc

    def _send_one(self, outbox_id: int) -> str:
        claim = self._claim(outbox_id)
        if claim is None:
            return "skipped"
        token, row = claim
        if row.chat_id_enc is None or row.text_enc is None:
            self._finish_failed(outbox_id, token, row, "no recipient")
            return "failed"
        chat_id = self._vault.decrypt(row.chat_id_enc, context="chat_id")
        text = self._vault.decrypt(row.text_enc, context="outbox.text")
        try:
            self._deliver(chat_id, text)
        except DeliveryError as exc:
            return self._after_failure(
                outbox_id, token, row, exc.reason, exc.retry_after, exc.permanent
            )
        except Exception as exc:  # noqa: BLE001 - the channel boundary: any failure is retried
            return self._after_failure(outbox_id, token, row, type(exc).__name__, None, False)
        now = self._now()
        try:
            with self._sessions.begin() as session:
                done = _affected(
                    session.execute(
                        update(m.Outbox)
                        .where(m.Outbox.id == outbox_id, m.Outbox.claim_token == token)
                        .values(
                            status=m.OUTBOX_SENT,
                            sent_at=now,
                            claim_token=None,
                            claimed_until=None,
                            # Delivered: the outbox no longer needs the text or the address.
                            chat_id_enc=None,
                            text_enc=None,
                            last_error=None,
                        )
                        .execution_options(synchronize_session=False)
                    )
                )
        except (OperationalError, InterfaceError) as exc:
            # Delivered but not marked: the lease expires and it may be sent again.
            logger.warning(
                "outbox %s row %d delivered but not marked sent", self.channel, outbox_id
            )
            raise _storage_error() from exc
        if done != 1:
            logger.warning("outbox %s row %d: claim lost during delivery", self.channel, outbox_id)
        return "sent"

    def _after_failure(
        self,
        outbox_id: int,
        token: str,
        row: m.Outbox,
        reason: str,
        retry_after: float | None,
        permanent: bool,
    ) -> str:
        if permanent or row.attempts >= self._max_attempts:
            self._finish_failed(outbox_id, token, row, reason)
            return "failed"
        wait = self.backoff(row.attempts, retry_after)
        logger.info(
            "outbox %s row %d: attempt %d failed (%s), retry in %s",
            self.channel,
            outbox_id,
            row.attempts,
            reason[:80],
            wait,
        )
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(m.Outbox)
                    .where(m.Outbox.id == outbox_id, m.Outbox.claim_token == token)
                    .values(
                        status=m.OUTBOX_PENDING,
                        next_attempt_at=self._now() + wait,
                        claim_token=None,
                        claimed_until=None,
                        last_error=reason[:200],
                    )
                    .execution_options(synchronize_session=False)
                )
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc
        return "retry"

    def _finish_failed(self, outbox_id: int, token: str, row: m.Outbox, reason: str) -> None:
        now = self._now()
        logger.warning(
            "outbox %s row %d failed after %d attempt(s) (%s)",
            self.channel,
            outbox_id,
            row.attempts,
            reason[:80],
        )
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(m.Outbox)
                    .where(m.Outbox.id == outbox_id, m.Outbox.claim_token == token)
                    .values(
                        status=m.OUTBOX_FAILED,
                        claim_token=None,
                        claimed_until=None,
                        last_error=reason[:200],
                    )
                    .execution_options(synchronize_session=False)
                )
                if row.case_id is not None:
                    # Moderators see it in the case history and can try another way.
                    session.add(
                        m.CaseEvent(
                            case_id=row.case_id,
                            kind="delivery_failed",
                            actor="system",
                            data=f'{{"outbox_id": {outbox_id}, "attempts": {row.attempts}}}',
                            created_at=now,
                        )
                    )
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc

    async def run_forever(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Call :meth:`run_once` every ``interval`` seconds until ``stop`` is set.

        Delivery runs in a worker thread so that a slow channel never blocks the event
        loop; a database outage is logged and retried on the next tick.
        """
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except StorageUnavailable:
                logger.warning("outbox %s: database unavailable, will retry", self.channel)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                continue


class PullOutbox:
    """Pull delivery for channels the server cannot push to (the web chat page polls).

    A reply counts as sent only when the page says it has shown it (:meth:`acknowledge`).
    Fetching leases a reply for ``lease``: polls inside the lease do not get it again, and
    if the page never acknowledges (the phone lost the response, the tab closed) the next
    poll after the lease gets it again, so a reply is never lost on the way; the page
    shows each reply id once. Conditional UPDATEs keep two concurrent polls from both
    taking the same reply.

    Usage example::

        pull = PullOutbox(session_factory, vault, channel="web")
        ref = vault.pseudonym("web", session_id)
        messages = pull.pending_for(ref)      # put them in the JSON response
        pull.acknowledge(ref, [m.outbox_id for m in messages])   # when the page has them

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        vault: decrypts texts.
        channel: the pull channel's name.
        clock: the current tz-aware time.
        lease: how long a fetched, unacknowledged reply is held back from other polls.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        vault: Vault,
        channel: str = "web",
        *,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        if not channel:
            raise ValueError("channel must be a non-empty string")
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        self._sessions = session_factory
        self._vault = vault
        self.channel = channel
        self._clock = clock
        self._lease = lease

    def pending_for(self, user_ref: str, limit: int = 20) -> list[OutboxMessage]:
        """Lease and return the replies waiting for ``user_ref``, oldest first.

        Raises:
            StorageUnavailable: the database is unavailable (nothing is leased).
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        now = as_utc(self._clock())
        free = or_(m.Outbox.claimed_until.is_(None), m.Outbox.claimed_until <= now)
        messages: list[OutboxMessage] = []
        try:
            with self._sessions.begin() as session:
                rows = (
                    session.execute(
                        select(m.Outbox)
                        .where(
                            m.Outbox.channel == self.channel,
                            m.Outbox.worker_ref == user_ref,
                            m.Outbox.status == m.OUTBOX_PENDING,
                            free,
                        )
                        .order_by(m.Outbox.id)
                        .limit(limit)
                    )
                    .scalars()
                    .all()
                )
                for row in rows:
                    text_enc, created = row.text_enc, row.created_at
                    taken = _affected(
                        session.execute(
                            update(m.Outbox)
                            .where(
                                m.Outbox.id == row.id,
                                m.Outbox.status == m.OUTBOX_PENDING,
                                free,
                            )
                            .values(claimed_until=now + self._lease,
                                    attempts=m.Outbox.attempts + 1)
                            .execution_options(synchronize_session=False)
                        )
                    )
                    if taken == 1 and text_enc is not None:
                        messages.append(
                            OutboxMessage(
                                outbox_id=row.id,
                                case_id=row.case_id,
                                text=self._vault.decrypt(text_enc, context="outbox.text"),
                                created_at=as_utc(created),
                            )
                        )
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc
        return messages

    def acknowledge(self, user_ref: str, outbox_ids: Sequence[int]) -> int:
        """Mark ``outbox_ids`` sent (and forget their text and address), but only those
        that are ``user_ref``'s on this channel; return how many were marked.

        Unknown, foreign or already acknowledged ids are ignored, so a repeated or forged
        acknowledgement changes nothing and reveals nothing.

        Raises:
            StorageUnavailable: the database is unavailable (nothing is marked).
        """
        ids = sorted({int(i) for i in outbox_ids})
        if not ids:
            return 0
        now = as_utc(self._clock())
        try:
            with self._sessions.begin() as session:
                return _affected(
                    session.execute(
                        update(m.Outbox)
                        .where(
                            m.Outbox.id.in_(ids),
                            m.Outbox.channel == self.channel,
                            m.Outbox.worker_ref == user_ref,
                            m.Outbox.status == m.OUTBOX_PENDING,
                        )
                        .values(status=m.OUTBOX_SENT, sent_at=now, claimed_until=None,
                                chat_id_enc=None, text_enc=None)
                        .execution_options(synchronize_session=False)
                    )
                )
        except (OperationalError, InterfaceError) as exc:
            raise _storage_error() from exc
