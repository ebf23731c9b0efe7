"""The two deadline clocks of a case: acknowledge within 7 days, feedback within 3 months."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from grievance.models import FINISHED_STATUSES, NEW
from grievance.values import CaseSummary

#: A clock turns amber this close to its deadline.
ACK_WARNING = timedelta(days=2)
FEEDBACK_WARNING = timedelta(days=14)

DONE = "done"
OK = "ok"
SOON = "soon"
OVERDUE = "overdue"
NOT_APPLICABLE = "na"


@dataclass(frozen=True, slots=True)
class Clock:
    """One deadline as the console shows it.

    Attributes:
        state: ``done``, ``ok`` (green), ``soon`` (amber), ``overdue`` (red) or ``na``.
        due: the deadline.
        left: time until the deadline (negative once overdue).
        elapsed: the share of the allowed time used, 0..1 (1 once overdue or done).
    """

    state: str
    due: datetime
    left: timedelta
    elapsed: float


def _running(start: datetime, due: datetime, now: datetime, warning: timedelta) -> Clock:
    left = due - now
    span = (due - start).total_seconds() or 1.0
    elapsed = min(max((now - start).total_seconds() / span, 0.0), 1.0)
    if left < timedelta(0):
        return Clock(OVERDUE, due, left, 1.0)
    return Clock(SOON if left <= warning else OK, due, left, elapsed)


def acknowledge_clock(case: CaseSummary, now: datetime) -> Clock:
    """The 7-day clock: running while the case is new, done once acknowledged."""
    if case.status != NEW:
        return Clock(DONE, case.acknowledge_due, case.acknowledge_due - now, 1.0)
    return _running(case.created_at, case.acknowledge_due, now, ACK_WARNING)


def feedback_clock(case: CaseSummary, now: datetime, *, replied: bool | None = None) -> Clock:
    """The 3-month clock: running until the worker got feedback or the case finished.

    Args:
        case: the queue row.
        now: the current time.
        replied: whether a reply was sent (known on the case page); None derives it from
            the queue row, where an open, acknowledged case with no deadline left has
            had its feedback.
    """
    due = case.feedback_due
    if case.status in FINISHED_STATUSES:
        return Clock(NOT_APPLICABLE if not replied else DONE, due, due - now, 1.0)
    if replied is None:
        replied = case.status != NEW and case.next_deadline is None
    if replied:
        return Clock(DONE, due, due - now, 1.0)
    return _running(case.created_at, due, now, FEEDBACK_WARNING)


def describe(clock: Clock, text: Callable[..., str]) -> str:
    """A short label: "3 d left", "5 h overdue", "done" (``text`` looks up console texts)."""
    if clock.state == DONE:
        return text("clock_done")
    if clock.state == NOT_APPLICABLE:
        return text("clock_na")
    span = clock.left if clock.left >= timedelta(0) else -clock.left
    kind = "left" if clock.left >= timedelta(0) else "over"
    if span >= timedelta(days=1):
        return text(f"clock_{kind}_days", n=span.days)
    return text(f"clock_{kind}_hours", n=max(1, math.ceil(span / timedelta(hours=1))))
