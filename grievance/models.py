"""Tables of the grievance queue: cases, their history, moderators, the outbox, the audit log.

Every free-text column (``*_enc``) holds an AES-GCM token from :class:`grievance.crypto.Vault`,
never clear text; the receipt code is stored only as a slow keyed hash. Other packages use
:class:`grievance.service.GrievanceService`, not these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from grievance.db import Base, utcnow
from knowledge_base.cards import TOPICS

#: Report categories: DESIGN's topics (one list, kept with the knowledge base), in the order
#: the report flow offers them.
CATEGORIES: tuple[str, ...] = TOPICS

#: How urgent a report is, most urgent first (the order of the moderator queue).
URGENCIES: tuple[str, ...] = ("danger_now", "ongoing", "past")

NEW = "new"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
RESOLVED = "resolved"
CLOSED = "closed"
STATUSES: tuple[str, ...] = (NEW, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED)

#: Allowed status changes. ``new -> closed`` lets a moderator close spam or a duplicate;
#: ``resolved -> in_progress`` reopens a case the worker writes about again.
TRANSITIONS: dict[str, frozenset[str]] = {
    NEW: frozenset({ACKNOWLEDGED, CLOSED}),
    ACKNOWLEDGED: frozenset({IN_PROGRESS, RESOLVED, CLOSED}),
    IN_PROGRESS: frozenset({RESOLVED, CLOSED}),
    RESOLVED: frozenset({IN_PROGRESS, CLOSED}),
    CLOSED: frozenset(),
}
OPEN_STATUSES: tuple[str, ...] = (NEW, ACKNOWLEDGED, IN_PROGRESS)
FINISHED_STATUSES: tuple[str, ...] = (RESOLVED, CLOSED)

#: Kinds of case events (the append-only history).
EVENT_KINDS: tuple[str, ...] = (
    "created",
    "acknowledged",
    "assigned",
    "status_changed",
    "note",
    "reply_sent",
    "worker_message",
    "delivery_failed",
    "worker_detached",
    "withdrawn",
)

ROLES: tuple[str, ...] = ("moderator", "admin")

OUTBOX_PENDING = "pending"
OUTBOX_SENDING = "sending"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"


class Case(Base):
    """One report. Free text is encrypted; the worker is a pseudonym, detachable on request."""

    __tablename__ = "grievance_case"
    __table_args__ = (
        UniqueConstraint("code_hash", name="uq_case_code_hash"),
        Index("ix_case_status_urgency", "status", "urgency"),
        Index("ix_case_worker_ref", "worker_ref"),
        Index("ix_case_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    account_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    employer_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    location_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    workers_affected_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    chat_id_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=NEW)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL"), nullable=True
    )
    acknowledge_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    feedback_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """The cases past a deadline at ``now``: a new case not acknowledged in time, or an open
    one with no feedback to the worker by its feedback date. One rule for the queue's
    "overdue" filter and the dashboard's count."""
    return or_(
        and_(Case.status == NEW, Case.acknowledge_due < now),
        and_(
            Case.status.in_(OPEN_STATUSES),
            Case.feedback_at.is_(None),
            Case.feedback_due < now,
        ),
    )


class CaseEvent(Base):
    """One entry of a case's history; rows are only ever added (text erased on withdrawal)."""

    __tablename__ = "case_event"
    __table_args__ = (Index("ix_case_event_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("grievance_case.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16))  # worker | moderator | system
    moderator_id: Mapped[int | None] = mapped_column(
        ForeignKey("moderator.id", ondelete="SET NULL"), nullable=True
    )
    text_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Small JSON with no free text, e.g. ``{"from": "new", "to": "acknowledged"}``.
    data: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Moderator(Base):
    """An NGO moderator or admin of the console (authentication lives in the console)."""

    __tablename__ = "moderator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="moderator")
    password_hash: Mapped[str] = mapped_column(Text)
    totp_secret_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Outbox(Base):
    """A message to a worker waiting for its channel's sender (or the web page's poll)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "channel", "status", "next_attempt_at"),
        Index("ix_outbox_worker", "worker_ref", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("grievance_case.id", ondelete="CASCADE"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    worker_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chat_id_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=OUTBOX_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: The error's class or code only, never a message that might quote the text.
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditLog(Base):
    """Who did what to which case, when; ``details`` is JSON without free text."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_case", "case_id"), Index("ix_audit_at", "created_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    moderator_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    #: Not a foreign key: the audit trail outlives purged cases.
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    details: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StatusAttempt(Base):
    """A wrong receipt code from one worker, for throttling guesses."""

    __tablename__ = "status_attempt"
    __table_args__ = (Index("ix_status_attempt_user", "user_ref", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_ref: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
