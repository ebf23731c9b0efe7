"""What moderators do to cases: status, assignment, notes, replies, queue, export."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    case,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from grievance import models as m
from grievance._core import URGENCY_RANK, ServiceCore, affected
from grievance.db import as_utc
from grievance.errors import ContactNotAllowed, InvalidTransition
from grievance.values import CaseDetail, CaseEventView, CaseFilter, CaseSummary

logger = logging.getLogger(__name__)


class ModeratorActions(ServiceCore):
    """The moderator half of :class:`grievance.service.GrievanceService`."""

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
            changed = affected(
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

        The worker receives the reply under the service's ``reply_header`` (who is writing,
        about which report, in the report's language); the case history keeps the
        moderator's own words.

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
            case = self._case(session, case_id, lock=True)
            sent = text
            if self._reply_header is not None:
                header = self._reply_header(case.lang, case.category, case.created_at.date())
                sent = f"{header}\n{text}"
            # One statement copies the contact details only if the worker can still be
            # reached, so a concurrent /delete can never leave a chat id in the outbox.
            contactable = select(
                m.Case.id,
                m.Case.channel,
                m.Case.worker_ref,
                m.Case.chat_id_enc,
                literal(self._enc(sent, "outbox.text")),
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

    # -- queries for moderators -------------------------------------------------------

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
            clause = m.overdue_clause(now)
            query = query.where(clause if f.overdue else ~clause)
        urgency_rank = case(URGENCY_RANK, value=m.Case.urgency, else_=len(URGENCY_RANK))
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
