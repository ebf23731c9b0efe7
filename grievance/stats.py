"""Aggregate figures for the moderators' dashboard, and the answered-questions counter.

Nothing here returns text or a worker: only counts, durations and category names. Every
breakdown carries the number of *distinct reporters* behind it so that the console can
suppress any group of fewer than :data:`MIN_REPORTERS` (no one can be singled out).
Cases whose worker has been detached count, all together, as one reporter: the lowest
number they could come from.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from grievance import models as m
from grievance.console_models import QuestionStat
from grievance.db import as_utc, utcnow
from grievance.errors import StorageUnavailable

logger = logging.getLogger(__name__)

#: Smallest number of distinct reporters a published figure may rest on.
MIN_REPORTERS = 5
#: Topic names are short identifiers (``wages``, ``overtime`` ...), never text.
MAX_TOPIC_CHARS = 32
_DETACHED = "\x00detached"


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Counts per group with every small group already suppressed.

    Attributes:
        shown: ``{group: count}`` for each group resting on at least
            :data:`MIN_REPORTERS` distinct reporters.
        rest: the other groups added together, when together they rest on enough
            reporters; None when there is nothing else or it had to be hidden too.
        suppressed: True when some count was withheld.
    """

    shown: dict[str, int]
    rest: int | None = None
    suppressed: bool = False

    @property
    def total_shown(self) -> int:
        """The sum of what may be shown."""
        return sum(self.shown.values()) + (self.rest or 0)


@dataclass(frozen=True, slots=True)
class Median:
    """A median duration, or None when there is no sample or it rests on too few reporters.

    Attributes:
        value: the median, or None.
        cases: how many cases the sample has (0 when suppressed).
        suppressed: True when a sample existed but rested on too few reporters.
    """

    value: timedelta | None
    cases: int = 0
    suppressed: bool = False


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The dashboard's figures for the weeks ``weeks[0]`` .. ``weeks[-1]``, suppressed.

    Attributes:
        weeks: the first day (Monday, UTC) of each week shown, oldest first.
        by_week: cases opened each week, by category.
        by_category: cases opened in the whole period, by category.
        to_acknowledge: median time from report to acknowledgement (cases of the period).
        to_resolve: median time from report to resolution (cases of the period).
        overdue: open cases past a deadline now (of any age; a total, not a breakdown).
        questions: answered questions of the period by topic (a topic is shown from
            :data:`MIN_REPORTERS` questions: they carry no worker reference to count).
    """

    weeks: tuple[date, ...]
    by_week: dict[date, Breakdown]
    by_category: Breakdown
    to_acknowledge: Median
    to_resolve: Median
    overdue: int
    questions: Breakdown = field(default_factory=lambda: Breakdown(shown={}))


def week_start(moment: date) -> date:
    """The Monday of ``moment``'s ISO week."""
    return moment - timedelta(days=moment.weekday())


def _reporters(refs: Iterable[str | None]) -> int:
    return len({ref if ref is not None else _DETACHED for ref in refs})


def breakdown(groups: Mapping[str, Sequence[str | None]]) -> Breakdown:
    """Suppress every group of fewer than :data:`MIN_REPORTERS` distinct reporters.

    Args:
        groups: ``{group: [reporter of each case]}``; None is a detached reporter.
    """
    shown = {g: len(refs) for g, refs in groups.items() if _reporters(refs) >= MIN_REPORTERS}
    rest_refs = [ref for g, refs in groups.items() if g not in shown for ref in refs]
    if not rest_refs:
        return Breakdown(shown=shown)
    if _reporters(rest_refs) >= MIN_REPORTERS:
        return Breakdown(shown=shown, rest=len(rest_refs), suppressed=True)
    return Breakdown(shown=shown, suppressed=True)


def count_breakdown(counts: Mapping[str, int]) -> Breakdown:
    """Suppress every group counted fewer than :data:`MIN_REPORTERS` times."""
    shown = {g: n for g, n in counts.items() if n >= MIN_REPORTERS}
    rest = sum(n for g, n in counts.items() if g not in shown)
    if rest == 0:
        return Breakdown(shown=shown)
    return Breakdown(shown=shown, rest=rest if rest >= MIN_REPORTERS else None, suppressed=True)


class CaseStatistics:
    """Reads the dashboard figures.

    Usage example::

        stats = CaseStatistics(session_factory)
        board = stats.dashboard(weeks=12)
        board.by_category.shown.get("wages")   # absent when fewer than 5 reporters

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        clock: the current tz-aware time.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    def dashboard(self, weeks: int = 12) -> Dashboard:
        """The figures for the last ``weeks`` weeks, this one included.

        Raises:
            ValueError: ``weeks`` outside 1..104.
            StorageUnavailable: the database is unavailable.
        """
        if not 1 <= weeks <= 104:
            raise ValueError(f"weeks must be between 1 and 104, got {weeks}")
        now = as_utc(self._clock())
        first = week_start(now.date()) - timedelta(weeks=weeks - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
        week_list = tuple(first + timedelta(weeks=i) for i in range(weeks))
        try:
            with self._sessions() as session:
                cases = session.execute(
                    select(
                        m.Case.id,
                        m.Case.category,
                        m.Case.worker_ref,
                        m.Case.created_at,
                        m.Case.acknowledged_at,
                    ).where(m.Case.created_at >= since)
                ).all()
                resolved = dict(
                    session.execute(
                        select(m.CaseEvent.case_id, func.min(m.CaseEvent.created_at))
                        .join(m.Case, m.Case.id == m.CaseEvent.case_id)
                        .where(
                            m.Case.created_at >= since,
                            m.CaseEvent.kind == "status_changed",
                            m.CaseEvent.data.like('%"to": "resolved"%'),
                        )
                        .group_by(m.CaseEvent.case_id)
                    ).all()
                )
                overdue = session.execute(
                    select(func.count(m.Case.id)).where(m.overdue_clause(now))
                ).scalar_one()
                questions = session.execute(
                    select(QuestionStat.topic, func.sum(QuestionStat.count))
                    .where(QuestionStat.day >= first)
                    .group_by(QuestionStat.topic)
                ).all()
        except (OperationalError, InterfaceError) as exc:
            raise StorageUnavailable("cannot read the dashboard: database unavailable") from exc

        cells: dict[date, dict[str, list[str | None]]] = defaultdict(lambda: defaultdict(list))
        per_category: dict[str, list[str | None]] = defaultdict(list)
        ack: list[tuple[timedelta, str | None]] = []
        res: list[tuple[timedelta, str | None]] = []
        for row in cases:
            created = as_utc(row.created_at)
            cells[week_start(created.date())][row.category].append(row.worker_ref)
            per_category[row.category].append(row.worker_ref)
            if row.acknowledged_at is not None:
                ack.append((as_utc(row.acknowledged_at) - created, row.worker_ref))
            if row.id in resolved:
                res.append((as_utc(resolved[row.id]) - created, row.worker_ref))
        return Dashboard(
            weeks=week_list,
            by_week={week: breakdown(cells[week]) for week in week_list},
            by_category=breakdown(per_category),
            to_acknowledge=_median(ack),
            to_resolve=_median(res),
            overdue=int(overdue),
            questions=count_breakdown({topic: int(total or 0) for topic, total in questions}),
        )

    def jurisdictions(self) -> list[str]:
        """The jurisdiction codes that cases use, for the queue's filter."""
        try:
            with self._sessions() as session:
                rows = session.execute(
                    select(m.Case.jurisdiction)
                    .where(m.Case.jurisdiction.is_not(None))
                    .distinct()
                    .order_by(m.Case.jurisdiction)
                ).scalars()
                return [str(code) for code in rows]
        except (OperationalError, InterfaceError) as exc:
            raise StorageUnavailable("cannot list jurisdictions: database unavailable") from exc


def _median(sample: list[tuple[timedelta, str | None]]) -> Median:
    if not sample:
        return Median(value=None)
    if _reporters([ref for _, ref in sample]) < MIN_REPORTERS:
        return Median(value=None, suppressed=True)
    seconds = statistics.median(d.total_seconds() for d, _ in sample)
    return Median(value=timedelta(seconds=seconds), cases=len(sample))


class QuestionStats:
    """Counts answered questions per day and topic; the assistant calls :meth:`record`.

    Usage example::

        counter = QuestionStats(session_factory)
        counter.record("overtime")   # after an answer was given

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        clock: the current tz-aware time.
    """

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    def record(self, topic: str) -> bool:
        """Add one answered question on ``topic`` today.

        Counting is best effort: a database fault is logged and reported as False, and
        never keeps a worker from getting the answer.

        Raises:
            ValueError: ``topic`` is empty or longer than a topic name can be.
        """
        if not topic or len(topic) > MAX_TOPIC_CHARS:
            raise ValueError(f"topic must be 1..{MAX_TOPIC_CHARS} characters, got {topic!r}")
        day = as_utc(self._clock()).date()
        for _ in range(3):
            try:
                with self._sessions.begin() as session:
                    bumped = session.execute(
                        update(QuestionStat)
                        .where(QuestionStat.day == day, QuestionStat.topic == topic)
                        .values(count=QuestionStat.count + 1)
                        .execution_options(synchronize_session=False)
                    )
                    if getattr(bumped, "rowcount", 0) == 0:
                        session.add(QuestionStat(day=day, topic=topic, count=1))
                return True
            except IntegrityError:
                continue  # another process inserted today's row first: bump it instead
            except (OperationalError, InterfaceError):
                logger.warning("question counter: database unavailable, one question not counted")
                return False
        logger.warning("question counter: gave up after concurrent inserts")
        return False
