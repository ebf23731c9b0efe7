"""Per-worker conversation state and inbound de-duplication, stored in the database.

State lives in the database (not in memory) so that a restart in the middle of a report
loses nothing the worker already sent; the flow's data may hold report text, so it is
encrypted at rest.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from grievance.crypto import Vault
from grievance.db import Base, utcnow
from grievance.errors import StorageUnavailable

logger = logging.getLogger(__name__)


class InboundMessage(Base):
    """A delivery already handled: ``(channel, message_id)`` is unique."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("channel", "message_id", name="uq_inbound_channel_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    user_ref: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Conversation(Base):
    """One worker's dialogue state, keyed by pseudonym."""

    __tablename__ = "conversation"

    user_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    lang_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    flow: Mapped[str | None] = mapped_column(String(32), nullable=True)
    flow_state: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_results: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(slots=True)
class ConversationState:
    """The decrypted, mutable state of one worker's conversation.

    Attributes:
        user_ref: the worker's pseudonym.
        channel: the channel the worker last wrote from.
        lang: the language replies use (detected, or chosen when ``lang_chosen``).
        lang_chosen: True once the worker picked a language: detection no longer changes it.
        country: the chosen jurisdiction (``CN``, ``VN``, ...) or None.
        flow: the multi-step flow in progress (``"report"``, ...) or None.
        flow_data: that flow's data (encrypted at rest).
        last_results: ids of the search results offered after the last answer.
        is_new: True when this worker had no stored state.
        erased: set by the delete flow after :meth:`ConversationStore.forget`: ``save``
            then writes nothing, so the erased conversation is not stored again.
    """

    user_ref: str
    channel: str
    lang: str | None = None
    lang_chosen: bool = False
    country: str | None = None
    flow: str | None = None
    flow_data: dict[str, Any] = field(default_factory=dict)
    last_results: list[str] = field(default_factory=list)
    is_new: bool = False
    erased: bool = False


class ConversationStore:
    """Loads and saves :class:`ConversationState`, and claims inbound deliveries once."""

    def __init__(self, session_factory: sessionmaker[Session], vault: Vault) -> None:
        self._sessions = session_factory
        self._vault = vault

    def claim(self, channel: str, message_id: str, user_ref: str) -> bool:
        """Record a delivery; False when ``(channel, message_id)`` was already handled.

        Raises:
            StorageUnavailable: if the database cannot be written.
        """
        try:
            with self._sessions.begin() as session:
                session.add(
                    InboundMessage(channel=channel, message_id=message_id[:128], user_ref=user_ref)
                )
        except IntegrityError:
            return False
        except OperationalError as exc:
            raise StorageUnavailable("cannot record the inbound message") from exc
        return True

    def release(self, channel: str, message_id: str) -> None:
        """Forget a claim whose handling failed, so that a redelivery is handled again."""
        try:
            with self._sessions.begin() as session:
                session.execute(
                    delete(InboundMessage).where(
                        InboundMessage.channel == channel,
                        InboundMessage.message_id == message_id[:128],
                    )
                )
        except OperationalError:
            logger.warning("could not release claim on channel=%s", channel)

    def load(self, user_ref: str, channel: str) -> ConversationState:
        """The state of ``user_ref``; a fresh state (``is_new``) when none is stored."""
        try:
            with self._sessions() as session:
                row = session.get(Conversation, user_ref)
        except OperationalError as exc:
            raise StorageUnavailable("cannot read the conversation") from exc
        if row is None:
            return ConversationState(user_ref=user_ref, channel=channel, is_new=True)
        flow_data: dict[str, Any] = {}
        if row.flow_state:
            flow_data = json.loads(self._vault.decrypt(row.flow_state, context="flow_state"))
        return ConversationState(
            user_ref=row.user_ref,
            channel=channel,
            lang=row.lang,
            lang_chosen=row.lang_chosen,
            country=row.country,
            flow=row.flow,
            flow_data=flow_data,
            last_results=json.loads(row.last_results) if row.last_results else [],
        )

    def save(self, state: ConversationState) -> None:
        """Store ``state`` (insert or update).

        Raises:
            StorageUnavailable: if the database cannot be written.
        """
        if state.erased:
            return
        flow_state = (
            self._vault.encrypt(
                json.dumps(state.flow_data, ensure_ascii=False), context="flow_state"
            )
            if state.flow_data
            else None
        )
        try:
            with self._sessions.begin() as session:
                row = session.get(Conversation, state.user_ref)
                if row is None:
                    row = Conversation(user_ref=state.user_ref, created_at=utcnow())
                    session.add(row)
                row.channel = state.channel
                row.lang = state.lang
                row.lang_chosen = state.lang_chosen
                row.country = state.country
                row.flow = state.flow
                row.flow_state = flow_state
                row.last_results = json.dumps(state.last_results) if state.last_results else None
                row.updated_at = utcnow()
        except OperationalError as exc:
            raise StorageUnavailable("cannot write the conversation") from exc
        state.is_new = False

    def forget(self, user_ref: str) -> None:
        """Erase everything stored about ``user_ref``'s conversation.

        Raises:
            StorageUnavailable: if the database cannot be written (nothing was erased).
        """
        try:
            with self._sessions.begin() as session:
                session.execute(delete(Conversation).where(Conversation.user_ref == user_ref))
                session.execute(delete(InboundMessage).where(InboundMessage.user_ref == user_ref))
        except OperationalError as exc:
            raise StorageUnavailable("cannot erase the conversation") from exc

    def purge_stale(self, older_than: datetime) -> int:
        """Delete conversation state and delivery records not touched since ``older_than``."""
        with self._sessions.begin() as session:
            done = session.execute(
                delete(Conversation).where(Conversation.updated_at < older_than)
            ).rowcount  # type: ignore[attr-defined]  # a CursorResult for DELETE
            session.execute(delete(InboundMessage).where(InboundMessage.received_at < older_than))
        return int(done or 0)

    def count(self) -> int:
        """How many conversations are stored (for stats)."""
        with self._sessions() as session:
            return len(session.execute(select(Conversation.user_ref)).all())
