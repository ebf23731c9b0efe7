"""Dashboard figures on SQLite and PostgreSQL: counts, medians, suppression, question counter."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from grievance.console_models import QuestionStat
from grievance.service import GrievanceService
from grievance.stats import (
    MIN_REPORTERS,
    Breakdown,
    CaseStatistics,
    QuestionStats,
    breakdown,
    count_breakdown,
    week_start,
)
from grievance.values import NewReport


def _open(service: GrievanceService, category: str = "wages", ref: str = "w0") -> int:
    report = NewReport(category=category, urgency="ongoing", worker_ref=ref)
    return service.open_case(report).case_id


def test_breakdown_suppresses_groups_under_five_reporters():
    five = [f"r{i}" for i in range(5)]
    assert breakdown({"wages": five}) == Breakdown(shown={"wages": 5})
    # Many cases from one reporter are still one reporter.
    assert breakdown({"wages": ["same"] * 9}) == Breakdown(shown={}, suppressed=True)
    # Small groups together may be shown as "others" when they reach five reporters.
    small = {"a": ["r1", "r2"], "b": ["r3", "r4"], "c": ["r5"]}
    assert breakdown({"wages": five} | small) == Breakdown(
        shown={"wages": 5}, rest=5, suppressed=True)
    # Detached workers (None) count as one reporter at most.
    assert breakdown({"wages": [None] * 4 + ["r1"]}).shown == {}
    assert breakdown({}) == Breakdown(shown={})
    assert count_breakdown({"overtime": 7, "wages": 2, "contract": 1}) == Breakdown(
        shown={"overtime": 7}, rest=None, suppressed=True)
    assert MIN_REPORTERS == 5


def test_dashboard_counts_weeks_categories_and_medians(service, session_factory, clock,
                                                       moderator_id):
    stats = CaseStatistics(session_factory, clock)
    first_week = week_start(clock().date())
    ids = [_open(service, "wages", f"w{i}") for i in range(6)]
    _open(service, "forced_labour", "f0")
    clock.advance(days=7)
    ids += [_open(service, "overtime", f"o{i}") for i in range(5)]
    clock.advance(days=2)
    for case_id in ids:
        service.acknowledge(case_id, moderator_id)
    clock.advance(days=1)
    for case_id in ids[:5]:
        service.change_status(case_id, moderator_id, "resolved")
    board = stats.dashboard(weeks=4)
    assert len(board.weeks) == 4 and board.weeks[-1] == week_start(clock().date())
    assert board.by_week[first_week] == Breakdown(shown={"wages": 6}, suppressed=True)
    assert board.by_week[first_week + timedelta(weeks=1)] == Breakdown(shown={"overtime": 5})
    assert board.by_category.shown == {"wages": 6, "overtime": 5}
    # Acknowledged after 9 days (6 cases) and 2 days (5 cases): median 9 days.
    assert board.to_acknowledge.value == timedelta(days=9)
    assert board.to_acknowledge.cases == 11
    assert board.to_resolve.value == timedelta(days=10)
    assert board.overdue == 1  # the forced labour case was never acknowledged


def test_small_samples_are_suppressed(service, session_factory, clock, moderator_id):
    case_id = _open(service)
    service.acknowledge(case_id, moderator_id)
    board = CaseStatistics(session_factory, clock).dashboard()
    assert board.to_acknowledge.value is None and board.to_acknowledge.suppressed
    assert board.to_resolve.value is None and not board.to_resolve.suppressed
    assert board.by_category == Breakdown(shown={}, suppressed=True)
    with pytest.raises(ValueError):
        CaseStatistics(session_factory, clock).dashboard(weeks=0)


def test_jurisdictions(service, session_factory):
    for code in ("VN", "CN", "CN", None):
        service.open_case(NewReport(category="wages", urgency="past", jurisdiction=code))
    assert CaseStatistics(session_factory).jurisdictions() == ["CN", "VN"]


def test_question_counter(session_factory, clock):
    counter = QuestionStats(session_factory, clock)
    for _ in range(3):
        assert counter.record("overtime")
    clock.advance(days=1)
    assert counter.record("overtime") and counter.record("wages")
    with session_factory() as session:
        rows = session.execute(
            select(QuestionStat.day, QuestionStat.topic, QuestionStat.count)
            .order_by(QuestionStat.day, QuestionStat.topic)
        ).all()
    today = clock().date()
    assert [tuple(r) for r in rows] == [
        (today - timedelta(days=1), "overtime", 3), (today, "overtime", 1), (today, "wages", 1)]
    board = CaseStatistics(session_factory, clock).dashboard()
    assert board.questions == Breakdown(shown={}, rest=5, suppressed=True)
    for bad in ("", "x" * 33):
        with pytest.raises(ValueError):
            counter.record(bad)


def test_week_start():
    assert week_start(date(2026, 11, 21)) == date(2026, 11, 16)  # a Saturday -> Monday
    assert week_start(date(2026, 11, 16)) == date(2026, 11, 16)
