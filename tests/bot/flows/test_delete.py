"""/delete: erase contact and conversation, or also withdraw the reports."""

from __future__ import annotations

from sqlalchemy import select

from grievance import models as m
from grievance.conversations import Conversation
from grievance.errors import ContactNotAllowed
from grievance.service import NewReport


def open_case(service, driver):
    return service.open_case(
        NewReport(category="wages", urgency="past", account="unpaid wages",
                  employer="Sunrise", contact_consent=True, worker_ref=driver.user_ref,
                  channel="telegram", chat_id=driver.user)
    )


def test_erase_detaches_cases_and_forgets_the_conversation(driver, service, session_factory,
                                                          moderator_id):
    case_id, code = open_case(service, driver)
    driver.send("hello", message_id="m1")
    confirm = driver.send("/delete")
    assert [b.value for b in confirm[0].buttons] == ["delete:erase", "delete:withdraw",
                                                     "delete:cancel"]
    done = driver.send("delete:erase")
    assert "erased" in done[0].text
    with session_factory() as session:
        assert session.get(Conversation, driver.user_ref) is None
        row = session.get(m.Case, case_id)
        assert row.worker_ref is None and row.chat_id_enc is None and not row.contact_consent
    detail = service.get_case(case_id, moderator_id)
    assert detail.account == "unpaid wages"  # the NGO can still act on it
    try:
        service.reply(case_id, moderator_id, "hello?")
    except ContactNotAllowed:
        pass
    else:
        raise AssertionError("reply to a detached worker must be refused")
    # The receipt code still works.
    assert service.status_by_code(code, user_ref=None).status == "new"


def test_withdraw_deletes_report_text(driver, service, moderator_id, session_factory):
    case_id, code = open_case(service, driver)
    service.add_worker_message(code, "more text", user_ref=None)
    driver.send("/delete")
    done = driver.send("delete:withdraw")
    assert "text of your reports" in done[0].text
    detail = service.get_case(case_id, moderator_id)
    assert detail.account is None and detail.employer is None
    assert detail.summary.withdrawn and detail.summary.status == "closed"
    assert all(e.text is None for e in detail.events)
    with session_factory() as session:
        assert session.execute(select(Conversation)).first() is None


def test_anything_but_a_choice_cancels(driver, service):
    open_case(service, driver)
    driver.send("/delete")
    replies = driver.send("hmm, no")
    assert "nothing was erased" in replies[0].text
    assert driver.state().flow is None
    assert service.list_cases()[0].contact_allowed
