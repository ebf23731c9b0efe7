"""Erasure on request (/delete) and the retention purge."""

from __future__ import annotations

from sqlalchemy import select, text

from grievance import models as m
from grievance.errors import CaseNotFound
from grievance.service import NewReport


def report(worker_ref="w1", **kw) -> NewReport:
    return NewReport(category="wages", urgency="ongoing", account="unpaid wages",
                     employer="Sunrise", location="Dongguan", workers_affected="40",
                     contact_consent=True, worker_ref=worker_ref, channel="telegram",
                     chat_id="42", **kw)


def test_erase_detaches_and_keeps_case_text(service, moderator_id, session_factory):
    mine, code = service.open_case(report())
    other, _ = service.open_case(report(worker_ref="w2"))
    service.reply(mine, moderator_id, "hello")
    result = service.erase_worker("w1", withdraw=False)
    assert (result.cases_detached, result.cases_withdrawn, result.outbox_dropped) == (1, 0, 1)
    detail = service.get_case(mine, moderator_id)
    assert detail.account == "unpaid wages" and detail.channel is None
    assert not detail.summary.contact_allowed
    assert detail.events[-1].kind == "worker_detached"
    assert service.get_case(other, moderator_id).summary.contact_allowed
    with session_factory() as session:
        row = session.get(m.Case, mine)
        assert row.worker_ref is None and row.chat_id_enc is None
        raw = str(session.execute(text("SELECT * FROM outbox")).all())
    assert "w1" not in raw
    assert service.status_by_code(code, user_ref=None).status == "new"


def test_withdraw_deletes_every_text_of_the_case(service, moderator_id, session_factory):
    case_id, code = service.open_case(report())
    service.add_worker_message(code, "more details", user_ref="w1")
    service.add_note(case_id, moderator_id, "moderator note quoting the worker")
    service.erase_worker("w1", withdraw=True)
    detail = service.get_case(case_id, moderator_id)
    assert (detail.account, detail.employer, detail.location, detail.workers_affected) == (
        None, None, None, None
    )
    assert detail.summary.status == "closed" and detail.summary.withdrawn
    assert all(e.text is None for e in detail.events)
    with session_factory() as session:
        texts = session.execute(select(m.CaseEvent.text_enc)).scalars().all()
    assert texts == [None] * len(texts)
    assert service.status_by_code(code, user_ref=None).withdrawn


def test_erasure_is_audited_without_identity(service, session_factory):
    service.open_case(report())
    service.erase_worker("w1", withdraw=True)
    with session_factory() as session:
        row = session.execute(
            select(m.AuditLog).where(m.AuditLog.action == "worker_erasure")
        ).scalar_one()
    assert "w1" not in (row.details or "")


def test_purge_deletes_only_old_finished_cases(service, clock, moderator_id, session_factory):
    old_closed, old_code = service.open_case(report())
    service.change_status(old_closed, moderator_id, "closed")
    old_open, _ = service.open_case(report())
    clock.advance(days=200)
    recent_closed, _ = service.open_case(report())
    service.acknowledge(recent_closed, moderator_id)
    service.change_status(recent_closed, moderator_id, "resolved")
    assert service.purge(retention_days=180) == 1
    remaining = {c.case_id for c in service.list_cases()}
    assert remaining == {old_open, recent_closed}
    with session_factory() as session:
        assert session.execute(
            select(m.CaseEvent).where(m.CaseEvent.case_id == old_closed)
        ).first() is None
        actions = session.execute(select(m.AuditLog.action)).scalars().all()
    assert "purge" in actions
    try:
        service.status_by_code(old_code, user_ref=None)
    except CaseNotFound:
        pass
    else:
        raise AssertionError("a purged case must not be found")


def test_reopened_case_is_not_purged(service, clock, moderator_id):
    case_id, _ = service.open_case(report())
    service.acknowledge(case_id, moderator_id)
    service.change_status(case_id, moderator_id, "resolved")
    service.change_status(case_id, moderator_id, "in_progress")
    clock.advance(days=400)
    assert service.purge(retention_days=30) == 0
