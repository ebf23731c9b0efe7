"""The status check by receipt code: status, replies, additions, wrong codes, throttling."""

from __future__ import annotations

from bot.flows.status import contains_receipt_code
from grievance.service import NewReport


def open_case(service, driver, **kw):
    report = NewReport(category="overtime", urgency="ongoing", account="too many hours",
                       contact_consent=True, worker_ref=driver.user_ref, channel="telegram",
                       chat_id=driver.user, **kw)
    return service.open_case(report)


def test_status_by_command_shows_status_and_replies(driver, service, moderator_id):
    case_id, code = open_case(service, driver)
    service.acknowledge(case_id, moderator_id)
    service.reply(case_id, moderator_id, "We called the factory.")
    replies = driver.send(f"/status {code.lower()}")
    assert "Overtime" in replies[0].text and "confirmed" in replies[0].text
    assert "We called the factory." in replies[1].text
    assert [b.value for b in replies[-1].buttons] == ["status:done"]


def test_bare_code_starts_the_check_and_new_status_shows_deadline(driver, service):
    _, code = open_case(service, driver)
    replies = driver.send(code.replace("-", " "))
    assert "2026-11-28" in replies[0].text  # acknowledge within 7 days of 2026-11-21


def test_worker_adds_information_to_the_same_case(driver, service, moderator_id):
    case_id, code = open_case(service, driver)
    driver.send(code)
    added = driver.send("They also took our passports.")
    assert "Added" in added[0].text
    driver.send("And locked the gate at night.")
    done = driver.send("status:done")
    assert "any time" in done[0].text and driver.state().flow is None
    texts = [e.text for e in service.get_case(case_id, moderator_id).events
             if e.kind == "worker_message"]
    assert texts == ["They also took our passports.", "And locked the gate at night."]


def test_wrong_code_answer_is_the_same_whether_or_not_a_case_exists(driver, service):
    _, code = open_case(service, driver)
    wrong_existing_shape = driver.send("/status ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    driver.send("stop")
    # A code that differs from a real one in one character.
    near = ("Y" if code[0] != "Y" else "Z") + code[1:]
    wrong_near = driver.send(f"/status {near}")
    assert [r.text for r in wrong_existing_shape] == [r.text for r in wrong_near]


def test_wrong_codes_are_throttled(driver, service):
    _, code = open_case(service, driver)
    answers = []
    for i in range(5):
        answers.append(driver.send(f"/status ZZZZ-ZZZZ-ZZZZ-ZZZ{i}")[0].text)
        driver.send("stop")
    assert len(set(answers)) == 1
    throttled = driver.send(f"/status {code}")
    assert "15 minutes" in throttled[0].text


def test_status_without_code_asks_then_lets_go(driver):
    ask = driver.send("/status")
    assert "7K4P-2M9Q-XR3T-8WJD" in ask[0].text
    driver.send("what is this?")
    assert driver.state().flow == "status"
    driver.send("I do not have it")
    assert driver.state().flow is None


def test_contains_receipt_code():
    assert contains_receipt_code("my code: 7k4p-2m9q-xr3t-8wjd")
    assert contains_receipt_code("7K4P2M9QXR3T8WJD")
    assert not contains_receipt_code("how much is overtime pay?")
