"""The 7-day and 3-month clocks and their labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from grievance.console.clocks import (
    DONE,
    NOT_APPLICABLE,
    OK,
    OVERDUE,
    SOON,
    Clock,
    acknowledge_clock,
    describe,
    feedback_clock,
)
from grievance.console.texts import ConsoleTexts
from grievance.values import CaseSummary
from tests.grievance.support import START

TEXTS = ConsoleTexts.load()


def _case(status="new", next_deadline=True) -> CaseSummary:
    ack, feedback = START + timedelta(days=7), START + timedelta(days=91)
    return CaseSummary(
        case_id=1, status=status, category="wages", urgency="ongoing", jurisdiction="CN",
        assignee_id=None, contact_allowed=True, withdrawn=False, created_at=START,
        updated_at=START, acknowledge_due=ack, feedback_due=feedback,
        next_deadline=(ack if status == "new" else feedback) if next_deadline else None,
        overdue=False,
    )


def _label(clock: Clock, lang: str = "en") -> str:
    return describe(clock, lambda key, **v: TEXTS.text(key, lang, **v))


def test_acknowledgement_clock_colours():
    case = _case()
    fresh = acknowledge_clock(case, START + timedelta(hours=1))
    assert fresh.state == OK and _label(fresh) == "6 d left" and 0 < fresh.elapsed < 0.01
    soon = acknowledge_clock(case, START + timedelta(days=6, hours=1))
    assert soon.state == SOON and _label(soon) == "23 h left" and _label(soon, "zh") == "剩 23 小时"
    late = acknowledge_clock(case, START + timedelta(days=9))
    assert late.state == OVERDUE and _label(late) == "2 d overdue" and late.elapsed == 1.0
    assert acknowledge_clock(_case("acknowledged"), START).state == DONE


def test_feedback_clock():
    now = START + timedelta(days=80)
    assert feedback_clock(_case("acknowledged"), now).state == SOON
    assert feedback_clock(_case("acknowledged"), START + timedelta(days=100)).state == OVERDUE
    assert feedback_clock(_case("in_progress", next_deadline=False), now).state == DONE
    assert feedback_clock(_case("new"), now, replied=True).state == DONE
    assert feedback_clock(_case("new"), START).state == OK
    assert feedback_clock(_case("closed", next_deadline=False), now).state == NOT_APPLICABLE
    assert _label(feedback_clock(replace(_case("closed"), next_deadline=None), now)) == "n/a"
