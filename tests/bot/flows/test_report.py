"""The report conversation, driven message by message on a real SQLite file."""

from __future__ import annotations

import pytest

from bot.flows.report import ReportFlow
from bot.flows.status import StatusFlow
from grievance import models as m
from grievance.codes import parse_code
from grievance.conversations import ConversationStore
from grievance.models import CATEGORIES
from knowledge_base.instruments import LANGUAGES
from tests.bot.flows.conftest import Driver
from tests.grievance.support import build_service


def values(reply):
    return [b.value for b in reply.buttons]


def walk_to_confirm(driver: Driver, account: str = "No pay since August.") -> None:
    driver.send("/report")
    driver.send("report:consent:yes")
    driver.send(account)
    driver.send("report:done")
    driver.send("report:cat:wages")
    driver.send("report:urg:ongoing")
    driver.send("Sunrise Garments")
    driver.send("Dongguan, Guangdong")
    driver.send("about 40")
    driver.send("report:contact:yes")


def test_full_report_saves_case_then_shows_code(driver, service, moderator_id, vault,
                                                session_factory):
    first = driver.send("/report")
    assert values(first[0]) == ["report:consent:yes", "report:cancel"]
    driver.send("report:consent:yes")
    driver.send("Our boss has not paid us since August.")
    more = driver.send("He says he will fire anyone who complains.")
    assert "report:done" in values(more[-1])
    category = driver.send("report:done")
    assert values(category[0])[: len(CATEGORIES)] == [f"report:cat:{c}" for c in CATEGORIES]
    driver.send("report:cat:wages")
    driver.send("report:urg:ongoing")
    driver.send("Sunrise Garments")
    driver.send("report:skip")
    driver.send("about 40")
    summary = driver.send("report:contact:yes")
    assert "Sunrise Garments" in summary[0].text and "(not given)" in summary[0].text
    assert values(summary[0]) == ["report:send", "report:cancel"]
    assert service.count_cases() == 0  # nothing saved before confirmation
    saved = driver.send("report:send")
    assert len(saved) == 3
    code = saved[1].text
    assert parse_code(code) == code
    assert "7 days" in saved[2].text
    assert service.count_cases() == 1
    state = driver.state()
    assert state.flow is None and state.flow_data == {}
    case_id = service.list_cases()[0].case_id
    detail = service.get_case(case_id, moderator_id)
    assert detail.account == (
        "Our boss has not paid us since August.\n\n"
        "He says he will fire anyone who complains."
    )
    assert (detail.employer, detail.location, detail.workers_affected) == (
        "Sunrise Garments", None, "about 40"
    )
    assert detail.summary.category == "wages" and detail.summary.urgency == "ongoing"
    assert detail.summary.contact_allowed and detail.channel == "telegram"
    with session_factory() as session:
        row = session.get(m.Case, case_id)
        assert vault.decrypt(row.chat_id_enc, context="chat_id") == driver.user
        assert row.worker_ref == driver.user_ref


def test_first_message_is_kept_as_the_account(driver, service, moderator_id, flows):
    driver.lang = "zh"
    state = driver.state()
    from bot.flows.base import Turn
    from bot.messages import Message

    turn = Turn(Message("telegram", driver.user, "老板打人"), state, "zh", "老板打人")
    replies = flows["report"].start(turn)
    driver.store.save(state)
    assert "你可以在这里匿名报告问题" in replies[0].text
    kept = driver.send("report:consent:yes")
    assert "已经记下" in kept[0].text
    driver.send("report:done")
    driver.send("report:skip")
    driver.send("report:skip")
    for _ in range(3):
        driver.send("report:skip")
    driver.send("report:contact:no")
    driver.send("report:send")
    detail = service.get_case(service.list_cases()[0].case_id, moderator_id)
    assert detail.account == "老板打人"
    assert detail.summary.category == "other" and detail.summary.urgency == "ongoing"
    assert not detail.summary.contact_allowed and detail.channel is None


def test_every_step_skippable(driver, service):
    driver.send("/report")
    driver.send("report:consent:yes")
    for _ in range(7):
        driver.send("report:skip")
    saved = driver.send("report:send")
    assert parse_code(saved[1].text)
    assert service.count_cases() == 1


@pytest.mark.parametrize("lang", LANGUAGES)
def test_stop_words_in_every_language_discard_everything(driver, service, catalogue, lang):
    words = [w.strip() for w in catalogue.text("cancel_words", lang).split(",")]
    for word in words:
        walk_to_confirm(driver)
        replies = driver.send(word)
        assert replies[0].text == catalogue.text("report_cancelled", driver.lang), word
        state = driver.state()
        assert state.flow is None and state.flow_data == {}
    assert service.count_cases() == 0


@pytest.mark.parametrize("stop", ["stop", "/cancel", "取消", "停止", "STOP!", "report:cancel"])
def test_stop_at_any_step(driver, service, stop):
    for steps in range(1, 10):
        driver.send("/report")
        for text in ["report:consent:yes", "x", "report:done", "report:cat:wages",
                     "report:urg:past", "report:skip", "report:skip", "report:skip"][: steps - 1]:
            driver.send(text)
        driver.send(stop)
        assert driver.state().flow is None
    assert service.count_cases() == 0


def test_hundred_kilobyte_report_is_truncated_with_a_note(driver, service, moderator_id):
    driver.send("/report")
    driver.send("report:consent:yes")
    huge = "工资" * 50_000  # 100,000 characters, ~300 kB of UTF-8
    replies = driver.send(huge)
    assert "20000" in replies[0].text
    driver.send("more details")  # no second note, no growth
    for text in ["report:done", "report:cat:wages", "report:urg:past", "report:skip",
                 "report:skip", "report:skip", "report:contact:no"]:
        driver.send(text)
    saved = driver.send("report:send")
    assert parse_code(saved[1].text)
    detail = service.get_case(service.list_cases()[0].case_id, moderator_id)
    assert len(detail.account) == 20_000


def test_typing_at_a_button_step_keeps_the_words(driver, service, moderator_id):
    driver.send("/report")
    driver.send("report:consent:yes")
    driver.send("first part")
    driver.send("report:done")
    replies = driver.send("and they locked the doors")
    assert "report:cat:wages" in values(replies[-1])
    driver.send("report:cat:injury_safety")
    danger = driver.send("report:urg:danger_now")
    assert "safe place" in danger[0].text
    for text in ["report:skip", "report:skip", "report:skip", "report:contact:no",
                 "report:send"]:
        driver.send(text)
    detail = service.get_case(service.list_cases()[0].case_id, moderator_id)
    assert detail.account == "first part\n\nand they locked the doors"
    assert detail.summary.urgency == "danger_now"


def test_report_survives_a_restart(driver, session_factory, vault, catalogue, clock):
    driver.send("/report")
    driver.send("report:consent:yes")
    driver.send("written before the restart")
    # A new process: new store, service and flows on the same database.
    store = ConversationStore(session_factory, vault)
    service = build_service(session_factory, vault, clock)
    again = Driver({"report": ReportFlow(service, catalogue),
                    "status": StatusFlow(service, catalogue)}, store, vault)
    for text in ["report:done", "report:cat:overtime", "report:urg:ongoing", "report:skip",
                 "report:skip", "report:skip", "report:contact:no", "report:send"]:
        again.send(text)
    mod = service.create_moderator("m2", role="admin", password_hash="x")
    assert service.get_case(service.list_cases()[0].case_id, mod).account == (
        "written before the restart"
    )


def test_same_delivery_twice_makes_one_case(driver, service):
    walk_to_confirm(driver)
    first = driver.send("report:send", message_id="tg-1001")
    second = driver.send("report:send", message_id="tg-1001")
    assert parse_code(first[1].text) and second == []
    assert service.count_cases() == 1


def test_racing_confirmations_make_one_case(driver, flows, store, service):
    """Two deliveries of "Send" processed at once (both loaded the state before saving)."""
    from bot.flows.base import Turn
    from bot.messages import Message

    walk_to_confirm(driver)
    codes = []
    for _ in range(2):
        state = store.load(driver.user_ref, driver.channel)
        turn = Turn(Message("telegram", driver.user, "report:send"), state, "en", "report:send")
        codes.append(flows["report"].handle(turn)[1].text)
    assert codes[0] == codes[1]
    assert service.count_cases() == 1


def test_database_locked_on_send_keeps_the_report(driver, service, engine, moderator_id,
                                                  monkeypatch):
    from grievance.errors import StorageUnavailable

    walk_to_confirm(driver)
    real = service.open_case

    def unavailable(*args, **kwargs):
        raise StorageUnavailable("locked")

    monkeypatch.setattr(service, "open_case", unavailable)
    failed = driver.send("report:send")
    assert "again" in failed[0].text and values(failed[0])[0] == "report:send"
    assert driver.state().flow == "report"
    monkeypatch.setattr(service, "open_case", real)
    saved = driver.send("report:send")
    assert parse_code(saved[1].text)
    assert service.count_cases() == 1


def test_no_report_text_in_logs(driver, caplog):
    caplog.set_level("DEBUG")
    walk_to_confirm(driver, account="secret-account-words")
    saved = driver.send("report:send")
    logged = caplog.text
    assert "secret-account-words" not in logged
    assert "Sunrise" not in logged and driver.user not in logged
    assert saved[1].text not in logged


def test_thousands_of_messages_stay_bounded(driver, service, moderator_id, store):
    driver.send("/report")
    driver.send("report:consent:yes")
    notes = 0
    for i in range(1500):
        replies = driver.send(f"message number {i:05d} with some detail")
        notes += sum("20000" in r.text for r in replies)
    assert notes == 1  # the truncation note is shown once
    assert len(driver.state().flow_data["account"]) == 20_000
    for text in ["report:done", "report:skip", "report:skip", "report:skip", "report:skip",
                 "report:skip", "report:contact:no"]:
        driver.send(text)
    assert parse_code(driver.send("report:send")[1].text)
    detail = service.get_case(service.list_cases()[0].case_id, moderator_id)
    assert detail.account.startswith("message number 00000")
    assert len(detail.account) == 20_000
