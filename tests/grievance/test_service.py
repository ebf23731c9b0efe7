"""The case lifecycle through GrievanceService, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from grievance import models as m
from grievance.codes import parse_code
from grievance.errors import (
    CaseNotFound,
    ContactNotAllowed,
    InvalidTransition,
    ModeratorNotFound,
    TooManyAttempts,
)
from grievance.service import CaseFilter, NewReport, add_months
from tests.grievance.support import START, build_service


def report(**overrides) -> NewReport:
    values = {
        "category": "wages",
        "urgency": "ongoing",
        "account": "老板三个月没发工资",
        "jurisdiction": "CN",
        "lang": "zh",
        "employer": "Sunrise Garments",
        "location": "Dongguan",
        "workers_affected": "about 40",
        "contact_consent": True,
        "worker_ref": "w" * 32,
        "channel": "telegram",
        "chat_id": "123456789",
    }
    values.update(overrides)
    return NewReport(**values)


def test_open_case_stores_everything_encrypted_and_no_code(service, session_factory):
    opened = service.open_case(report())
    case_id, code = opened
    assert parse_code(code) == code
    with session_factory() as session:
        raw = " ".join(
            str(v)
            for row in session.execute(text("SELECT * FROM grievance_case")).all()
            for v in row
        )
        events = session.execute(select(m.CaseEvent.kind)).scalars().all()
    for secret in ("老板", "Sunrise", "Dongguan", "about 40", "123456789", code,
                   code.replace("-", "")):
        assert secret not in raw
    assert events == ["created"]
    assert case_id == opened.case_id


def test_deadlines_are_set_at_creation(service, moderator_id):
    case_id, _ = service.open_case(report())
    detail = service.get_case(case_id, moderator_id)
    assert detail.summary.acknowledge_due == START + timedelta(days=7)
    assert detail.summary.feedback_due == add_months(START, 3)
    assert detail.account == "老板三个月没发工资"
    assert detail.employer == "Sunrise Garments"


def test_add_months_clamps_to_month_end():
    assert add_months(START.replace(month=11, day=30), 3).date().isoformat() == "2027-02-28"


def test_lifecycle_and_forbidden_transitions(service, moderator_id):
    case_id, _ = service.open_case(report())
    with pytest.raises(InvalidTransition, match="'new' to 'in_progress'"):
        service.change_status(case_id, moderator_id, "in_progress")
    service.acknowledge(case_id, moderator_id)
    service.change_status(case_id, moderator_id, "in_progress")
    service.change_status(case_id, moderator_id, "resolved")
    service.change_status(case_id, moderator_id, "closed")
    with pytest.raises(InvalidTransition):
        service.change_status(case_id, moderator_id, "new")
    with pytest.raises(ValueError, match="status must be one of"):
        service.change_status(case_id, moderator_id, "done")
    kinds = [e.kind for e in service.get_case(case_id, moderator_id).events]
    assert kinds == ["created", "acknowledged", "status_changed", "status_changed",
                     "status_changed"]


def test_moderator_actions_are_audited(service, session_factory, moderator_id):
    other = service.create_moderator("mod-b", role="admin", password_hash="y")
    case_id, _ = service.open_case(report())
    service.acknowledge(case_id, moderator_id)
    service.assign(case_id, moderator_id, other)
    service.add_note(case_id, moderator_id, "called the labour bureau")
    service.reply(case_id, moderator_id, "We received your report.")
    service.get_case(case_id, moderator_id)
    with session_factory() as session:
        rows = session.execute(
            select(m.AuditLog.action, m.AuditLog.moderator_id, m.AuditLog.details)
            .where(m.AuditLog.case_id == case_id)
            .order_by(m.AuditLog.id)
        ).all()
    assert [r.action for r in rows] == ["acknowledged", "assigned", "note", "reply_sent",
                                        "view_case"]
    assert {r.moderator_id for r in rows} == {moderator_id}
    assert all("labour bureau" not in (r.details or "") for r in rows)


def test_unknown_or_inactive_moderator_is_refused(service):
    case_id, _ = service.open_case(report())
    with pytest.raises(ModeratorNotFound, match="999"):
        service.acknowledge(case_id, 999)


def test_unknown_case(service, moderator_id):
    with pytest.raises(CaseNotFound, match="4242"):
        service.acknowledge(4242, moderator_id)


def test_reply_writes_event_and_outbox_in_one_transaction(service, session_factory, vault,
                                                         moderator_id):
    case_id, _ = service.open_case(report())
    outbox_id = service.reply(case_id, moderator_id, "Please keep your pay slips.")
    with session_factory() as session:
        row = session.get(m.Outbox, outbox_id)
        assert row is not None and row.status == "pending" and row.channel == "telegram"
        assert vault.decrypt(row.chat_id_enc, context="chat_id") == "123456789"
        assert vault.decrypt(row.text_enc, context="outbox.text") == "Please keep your pay slips."
        event = session.execute(
            select(m.CaseEvent).where(m.CaseEvent.kind == "reply_sent")
        ).scalar_one()
        assert event.created_at == row.created_at


def test_the_worker_gets_the_reply_under_a_header_and_the_history_keeps_it_plain(
    session_factory, vault, clock
):
    calls = []

    def header(lang, category, reported):
        calls.append((lang, category, reported))
        return f"[{lang}] {category} {reported.isoformat()}"

    service = build_service(session_factory, vault, clock, reply_header=header)
    moderator = service.create_moderator("mod-h", role="moderator", password_hash="x")
    case_id, _ = service.open_case(report(lang=None))
    outbox_id = service.reply(case_id, moderator, "Please keep your pay slips.")
    reported = START.date()
    assert calls == [(None, "wages", reported)]
    with session_factory() as session:
        row = session.get(m.Outbox, outbox_id)
        assert vault.decrypt(row.text_enc, context="outbox.text") == (
            f"[None] wages {reported.isoformat()}\nPlease keep your pay slips."
        )
    events = service.get_case(case_id, moderator).events
    assert events[-1].kind == "reply_sent" and events[-1].text == "Please keep your pay slips."


def test_reply_rolls_back_when_the_outbox_insert_fails(service, session_factory, engine,
                                                       moderator_id):
    case_id, _ = service.open_case(report())
    # Make the outbox insert fail inside the reply's transaction.
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE outbox"))
    with pytest.raises(Exception):  # noqa: B017 - whichever error the backend raises
        service.reply(case_id, moderator_id, "hello")
    with session_factory() as session:
        kinds = session.execute(select(m.CaseEvent.kind)).scalars().all()
    assert "reply_sent" not in kinds


def test_reply_refused_without_contact_consent(service, moderator_id):
    case_id, _ = service.open_case(report(contact_consent=False))
    with pytest.raises(ContactNotAllowed):
        service.reply(case_id, moderator_id, "hello")


def test_contact_details_not_stored_without_consent(service, session_factory):
    case_id, _ = service.open_case(report(contact_consent=False))
    with session_factory() as session:
        row = session.get(m.Case, case_id)
        assert row.chat_id_enc is None and row.channel is None


def test_status_by_code_shows_status_and_replies(service, moderator_id):
    case_id, code = service.open_case(report())
    service.acknowledge(case_id, moderator_id)
    service.reply(case_id, moderator_id, "We are on it.")
    service.add_note(case_id, moderator_id, "internal: do not show")
    view = service.status_by_code(code.lower().replace("-", " "), user_ref="u1")
    assert view.status == "acknowledged"
    assert [r.text for r in view.replies] == ["We are on it."]
    assert view.contact_allowed


def test_worker_adds_information_to_the_same_case(service, moderator_id):
    case_id, code = service.open_case(report())
    assert service.add_worker_message(code, "They also took our IDs.", user_ref="u1") == case_id
    events = service.get_case(case_id, moderator_id).events
    assert [(e.kind, e.actor, e.text) for e in events][-1] == (
        "worker_message", "worker", "They also took our IDs."
    )


@pytest.mark.parametrize("wrong", ["ZZZZ-ZZZZ-ZZZZ-ZZZZ", "hello", "", "7K4P-2M9Q"])
def test_wrong_code_is_indistinguishable(service, wrong):
    service.open_case(report())
    with pytest.raises(CaseNotFound) as excinfo:
        service.status_by_code(wrong, user_ref="u1")
    assert str(excinfo.value) == "no case matches this receipt code"


def test_wrong_codes_are_throttled_per_user(service, clock):
    _, code = service.open_case(report())
    for _ in range(5):
        with pytest.raises(CaseNotFound):
            service.status_by_code("ZZZZ-ZZZZ-ZZZZ-ZZZZ", user_ref="guesser")
    # Even the right code is refused while throttled, so guessing cannot continue.
    with pytest.raises(TooManyAttempts):
        service.status_by_code(code, user_ref="guesser")
    with pytest.raises(TooManyAttempts):
        service.add_worker_message(code, "more", user_ref="guesser")
    # Another worker is not affected, and the window passes.
    assert service.status_by_code(code, user_ref="someone-else").status == "new"
    clock.advance(minutes=16)
    assert service.status_by_code(code, user_ref="guesser").status == "new"


def test_overdue_cases(service, clock, moderator_id):
    fresh, _ = service.open_case(report())
    acked, _ = service.open_case(report(urgency="danger_now"))
    service.acknowledge(acked, moderator_id)
    replied, _ = service.open_case(report(urgency="past"))
    service.acknowledge(replied, moderator_id)
    service.reply(replied, moderator_id, "noted")
    assert service.overdue() == []
    clock.advance(days=8)
    assert [c.case_id for c in service.overdue()] == [fresh]
    clock.advance(days=90)
    assert [c.case_id for c in service.overdue()] == [acked, fresh]
    assert {c.case_id for c in service.list_cases(CaseFilter(overdue=False))} == {replied}


def test_list_cases_sorted_by_urgency_then_deadline_and_filtered(service, clock, moderator_id):
    past, _ = service.open_case(report(urgency="past", category="overtime"))
    clock.advance(hours=1)
    ongoing, _ = service.open_case(report(urgency="ongoing"))
    clock.advance(hours=1)
    danger_late, _ = service.open_case(report(urgency="danger_now", jurisdiction="VN"))
    danger_early, _ = service.open_case(report(urgency="danger_now"))
    service.acknowledge(danger_early, moderator_id)  # next deadline: 3 months away
    order = [c.case_id for c in service.list_cases()]
    assert order == [danger_late, danger_early, ongoing, past]
    assert [c.case_id for c in service.list_cases(CaseFilter(category="overtime"))] == [past]
    assert [c.case_id for c in service.list_cases(CaseFilter(jurisdiction="VN"))] == [danger_late]
    assert [c.case_id for c in service.list_cases(CaseFilter(status="acknowledged"))] == [
        danger_early
    ]
    service.assign(ongoing, moderator_id, moderator_id)
    assert [c.case_id for c in service.list_cases(CaseFilter(assignee_id=moderator_id))] == [
        ongoing
    ]
    assert len(service.list_cases(CaseFilter(unassigned=True))) == 3


def test_filter_values_fail_fast():
    with pytest.raises(ValueError, match="urgency must be one of"):
        CaseFilter(urgency="soon")
    with pytest.raises(ValueError, match="category must be one of"):
        NewReport(category="money", urgency="past")
    with pytest.raises(ValueError, match="contact_consent needs"):
        NewReport(category="wages", urgency="past", contact_consent=True)


def test_export_has_free_text_only_when_asked(service, moderator_id, session_factory):
    service.open_case(report())
    plain = service.export_rows(moderator_id)
    assert plain and "account" not in plain[0] and "Sunrise" not in str(plain)
    full = service.export_rows(moderator_id, include_text=True)
    assert full[0]["account"] == "老板三个月没发工资"
    with session_factory() as session:
        details = session.execute(
            select(m.AuditLog.details).where(m.AuditLog.action == "export")
        ).scalars().all()
    assert len(details) == 2 and '"include_text": true' in details[1]


def test_same_receipt_code_twice_opens_one_case(service):
    first = service.open_case(report(), receipt_code="7K4P-2M9Q-XR3T-8WJD")
    again = service.open_case(report(), receipt_code="7k4p2m9qxr3t8wjd")
    assert again.case_id == first.case_id and not again.created
    assert service.count_cases() == 1


def test_thousands_of_cases_list_quickly(service, session_factory, vault):
    # Bulk-insert through the ORM (hashing 3,000 codes would only test scrypt).
    with session_factory.begin() as session:
        for i in range(3000):
            session.add(
                m.Case(
                    code_hash=f"{i:064x}",
                    category=m.CATEGORIES[i % len(m.CATEGORIES)],
                    urgency=m.URGENCIES[i % 3],
                    contact_consent=False,
                    status="new",
                    withdrawn=False,
                    account_enc=vault.encrypt(f"report {i}", context="case.account"),
                    acknowledge_due=START + timedelta(days=7, minutes=i),
                    feedback_due=START + timedelta(days=90),
                    created_at=START,
                    updated_at=START,
                )
            )
    first = service.list_cases(CaseFilter(limit=50))
    assert len(first) == 50
    assert all(c.urgency == "danger_now" for c in first)
    deadlines = [c.next_deadline for c in first]
    assert deadlines == sorted(deadlines)
    everything = service.list_cases(CaseFilter(limit=10_000))
    assert len(everything) == 3000
    assert len(service.list_cases(CaseFilter(urgency="past", limit=10_000))) == 1000


def test_malformed_code_costs_one_hash_like_a_wrong_one(service, monkeypatch):
    import grievance._core as core

    calls = []
    real = core.hash_code

    def counting(code, salt, *, cost):
        calls.append(code)
        return real(code, salt, cost=cost)

    monkeypatch.setattr(core, "hash_code", counting)
    for code in ("not a code", "ZZZZ-ZZZZ-ZZZZ-ZZZZ"):
        calls.clear()
        with pytest.raises(CaseNotFound):
            service.status_by_code(code, user_ref="u")
        assert len(calls) == 1 or (len(calls) == 2 and calls[0] == code)
