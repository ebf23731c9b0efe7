"""Frozen values that cross the grievance package boundary (decrypted, never ORM rows)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from grievance.models import CATEGORIES, STATUSES, URGENCIES

#: Longest free text the service stores in one field; the report flow truncates earlier.
MAX_TEXT_CHARS = 100_000
#: Longest short field (employer, location, workers affected).
MAX_SHORT_CHARS = 2_000


def _check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True, slots=True)
class NewReport:
    """What a worker reported, as the report flow hands it to the service.

    Attributes:
        category: one of :data:`grievance.models.CATEGORIES`.
        urgency: one of :data:`grievance.models.URGENCIES`.
        account: what happened, in the worker's words (may be empty if they skipped it).
        jurisdiction: the country the worker chose (``CN`` ...) or None.
        lang: the language the worker wrote in, for moderators' replies.
        employer: factory or employer name, if given.
        location: city/province, if given.
        workers_affected: how many workers are affected, as the worker wrote it.
        contact_consent: True if a moderator may reply through the bot.
        worker_ref: the worker's pseudonym (None for an anonymous source such as a form).
        channel: the channel to reply through (needed when ``contact_consent``).
        chat_id: the channel's native chat id (stored encrypted; only with consent).
    """

    category: str
    urgency: str
    account: str = ""
    jurisdiction: str | None = None
    lang: str | None = None
    employer: str | None = None
    location: str | None = None
    workers_affected: str | None = None
    contact_consent: bool = False
    worker_ref: str | None = None
    channel: str | None = None
    chat_id: str | None = None

    def __post_init__(self) -> None:
        _check_choice("category", self.category, CATEGORIES)
        _check_choice("urgency", self.urgency, URGENCIES)
        if len(self.account) > MAX_TEXT_CHARS:
            raise ValueError(
                f"account has {len(self.account)} characters; at most {MAX_TEXT_CHARS}"
            )
        for name in ("employer", "location", "workers_affected"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_SHORT_CHARS:
                raise ValueError(f"{name} has {len(value)} characters; at most {MAX_SHORT_CHARS}")
        if self.contact_consent and not (self.channel and self.chat_id):
            raise ValueError("contact_consent needs both channel and chat_id to reply to")


@dataclass(frozen=True, slots=True)
class OpenedCase:
    """A saved report and its receipt code (the only time the code exists in clear).

    Attributes:
        case_id: the case's id (for moderators; never shown to the worker).
        receipt_code: ``XXXX-XXXX-XXXX-XXXX``.
        created: False when the same receipt code had already been saved (a retried
            confirmation): no second case was made.
    """

    case_id: int
    receipt_code: str
    created: bool = True

    def __iter__(self) -> Iterator[Any]:
        """Unpack as ``case_id, receipt_code = service.open_case(...)``."""
        return iter((self.case_id, self.receipt_code))


@dataclass(frozen=True, slots=True)
class WorkerReply:
    """A moderator's reply as the worker sees it."""

    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseStatusView:
    """What a worker holding the receipt code may see about their case.

    Attributes:
        status: ``new``, ``acknowledged``, ``in_progress``, ``resolved`` or ``closed``.
        category: the report's category.
        created_at: when the report was saved.
        acknowledge_due: when a moderator must have acknowledged it.
        acknowledged_at: when a moderator acknowledged it, or None.
        withdrawn: True if the worker withdrew it.
        contact_allowed: True if moderators can reply through the bot.
        replies: the moderators' replies, oldest first.
    """

    status: str
    category: str
    created_at: datetime
    acknowledge_due: datetime
    acknowledged_at: datetime | None
    withdrawn: bool
    contact_allowed: bool
    replies: tuple[WorkerReply, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases :meth:`GrievanceService.list_cases` returns; None means any.

    Attributes:
        status: one status, or None.
        category: one category, or None.
        urgency: one urgency, or None.
        jurisdiction: one jurisdiction code, or None.
        assignee_id: cases assigned to this moderator, or None.
        unassigned: only cases without an assignee.
        overdue: True for overdue cases only, False for cases that are not overdue.
        limit: at most this many (1..10,000).
        offset: skip this many (for paging).
    """

    status: str | None = None
    category: str | None = None
    urgency: str | None = None
    jurisdiction: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    overdue: bool | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        _check_choice("status", self.status, STATUSES)
        _check_choice("category", self.category, CATEGORIES)
        _check_choice("urgency", self.urgency, URGENCIES)
        if not 1 <= self.limit <= 10_000:
            raise ValueError(f"limit must be between 1 and 10000, got {self.limit}")
        if self.offset < 0:
            raise ValueError(f"offset must be >= 0, got {self.offset}")
        if self.unassigned and self.assignee_id is not None:
            raise ValueError("unassigned=True contradicts assignee_id")


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One row of the moderators' queue: no free text.

    Attributes:
        case_id: the case id.
        status: current status.
        category: report category.
        urgency: ``danger_now``, ``ongoing`` or ``past``.
        jurisdiction: country code or None.
        assignee_id: the moderator working on it, or None.
        contact_allowed: True if a reply can reach the worker.
        withdrawn: True if the worker withdrew the report.
        created_at: when it was reported.
        updated_at: last change (including a worker's new message).
        acknowledge_due: the 7-day acknowledgement deadline.
        feedback_due: the 3-month feedback deadline.
        next_deadline: the deadline that matters now, or None once finished.
        overdue: True if ``next_deadline`` has passed.
    """

    case_id: int
    status: str
    category: str
    urgency: str
    jurisdiction: str | None
    assignee_id: int | None
    contact_allowed: bool
    withdrawn: bool
    created_at: datetime
    updated_at: datetime
    acknowledge_due: datetime
    feedback_due: datetime
    next_deadline: datetime | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class CaseEventView:
    """One decrypted entry of a case's history."""

    event_id: int
    kind: str
    actor: str
    moderator_id: int | None
    text: str | None
    data: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything about one case, decrypted, for a moderator.

    Attributes:
        summary: the queue row.
        account: what happened (None once withdrawn).
        employer: factory or employer name, if given.
        location: city/province, if given.
        workers_affected: as the worker wrote it, if given.
        lang: the worker's language (reply in it).
        channel: the channel a reply goes through (None when contact is impossible).
        events: the history, oldest first.
    """

    summary: CaseSummary
    account: str | None
    employer: str | None
    location: str | None
    workers_affected: str | None
    lang: str | None
    channel: str | None
    events: tuple[CaseEventView, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What :meth:`GrievanceService.erase_worker` did."""

    cases_detached: int
    cases_withdrawn: int
    outbox_dropped: int
