"""Tables the moderator console adds: account security, login throttling, settings, stats.

They sit beside :mod:`grievance.models` (migration ``0003``) and hold no free text: the
throttle keys are keyed hashes, the question counter has a day, a topic and a number.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grievance import models as _models  # noqa: F401 - the moderator table these refer to
from grievance.db import Base, utcnow


class ModeratorSecurity(Base):
    """Sign-in state of one moderator; a moderator without a row has every default.

    ``totp_enabled`` is False while an enrolment is pending (the secret then sits unconfirmed
    in ``moderator.totp_secret_enc``). Bumping ``session_epoch`` ends every open session.
    """

    __tablename__ = "moderator_security"

    moderator_id: Mapped[int] = mapped_column(
        ForeignKey("moderator.id", ondelete="CASCADE"), primary_key=True
    )
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The last TOTP time step accepted, so that a code cannot be used twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginFailure(Base):
    """One failed sign-in, under a keyed hash of the account name or of the client address."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSetting(Base):
    """A console-wide setting set by an admin (``require_2fa``)."""

    __tablename__ = "console_setting"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuestionStat(Base):
    """How many questions the assistant answered per day and topic (no text, no worker)."""

    __tablename__ = "question_stat"
    __table_args__ = (UniqueConstraint("day", "topic", name="uq_question_stat_day_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    topic: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=0)
