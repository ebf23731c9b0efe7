"""Outbox delivery: retries with backoff, sent exactly once, safe claims, web pull."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from grievance import models as m
from grievance.outbox import DeliveryError, OutboxSender, PullOutbox
from grievance.service import NewReport


class Recorder:
    """A channel's deliver function that fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or DeliveryError("http 502")
        self.sent: list[tuple[str, str]] = []
        self.calls = 0

    def __call__(self, chat_id: str, text: str) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.sent.append((chat_id, text))


def open_contactable(service, channel="telegram", chat_id="42", worker_ref="w1"):
    case_id, _ = service.open_case(
        NewReport(category="wages", urgency="ongoing", account="a", contact_consent=True,
                  worker_ref=worker_ref, channel=channel, chat_id=chat_id)
    )
    return case_id


def sender(session_factory, vault, clock, deliver, **kw):
    return OutboxSender(session_factory, vault, "telegram", deliver, clock=clock,
                        base_delay=timedelta(seconds=30), **kw)


def outbox_row(session_factory, outbox_id):
    with session_factory() as session:
        return session.get(m.Outbox, outbox_id)


def test_reply_is_delivered_once(service, session_factory, vault, clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "We got your report.")
    deliver = Recorder()
    s = sender(session_factory, vault, clock, deliver)
    assert s.run_once().sent == 1
    assert s.run_once().sent == 0
    clock.advance(days=1)
    assert s.run_once().sent == 0
    assert deliver.sent == [("42", "We got your report.")]
    row = outbox_row(session_factory, outbox_id)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None
    assert row.text_enc is None and row.chat_id_enc is None  # nothing kept after delivery


def test_failed_delivery_is_retried_with_exponential_backoff(service, session_factory, vault,
                                                             clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "hello")
    deliver = Recorder(failures=3)
    s = sender(session_factory, vault, clock, deliver)
    waits = []
    for _ in range(3):
        report = s.run_once()
        assert report.retried == 1
        row = outbox_row(session_factory, outbox_id)
        assert row.status == "pending" and row.last_error == "http 502"
        waits.append(row.next_attempt_at.replace(tzinfo=None) - clock().replace(tzinfo=None))
        assert s.run_once().retried == 0  # not due yet
        clock.now = row.next_attempt_at.replace(tzinfo=clock.now.tzinfo)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert s.run_once().sent == 1
    assert deliver.sent == [("42", "hello")] and deliver.calls == 4
    row = outbox_row(session_factory, outbox_id)
    assert row.status == "sent" and row.attempts == 4


def test_retry_after_is_respected(service, session_factory, vault, clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "hello")
    s = sender(session_factory, vault, clock, Recorder(1, DeliveryError("429", retry_after=600)))
    s.run_once()
    row = outbox_row(session_factory, outbox_id)
    assert row.next_attempt_at.replace(tzinfo=None) - clock().replace(tzinfo=None) == timedelta(
        seconds=600
    )


def test_gives_up_after_max_attempts_and_tells_moderators(service, session_factory, vault,
                                                          clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "hello")
    s = sender(session_factory, vault, clock, Recorder(failures=99), max_attempts=3)
    for _ in range(5):
        s.run_once()
        clock.advance(hours=7)
    row = outbox_row(session_factory, outbox_id)
    assert row.status == "failed" and row.attempts == 3
    kinds = [e.kind for e in service.get_case(case_id, moderator_id).events]
    assert kinds[-1] == "delivery_failed"


def test_permanent_error_fails_at_once(service, session_factory, vault, clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "hello")
    s = sender(session_factory, vault, clock, Recorder(1, DeliveryError("blocked", permanent=True)))
    assert s.run_once().failed == 1
    assert outbox_row(session_factory, outbox_id).status == "failed"


def test_unexpected_exception_counts_as_transient(service, session_factory, vault, clock,
                                                  moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "secret text")
    s = sender(session_factory, vault, clock, Recorder(1, RuntimeError("secret text")))
    assert s.run_once().retried == 1
    assert outbox_row(session_factory, outbox_id).last_error == "RuntimeError"


def test_other_channels_rows_are_left_alone(service, session_factory, vault, clock,
                                            moderator_id):
    case_id = open_contactable(service, channel="wechat")
    service.reply(case_id, moderator_id, "hello")
    deliver = Recorder()
    assert sender(session_factory, vault, clock, deliver).run_once().sent == 0


def test_two_senders_never_both_deliver(service, session_factory, vault, clock, moderator_id):
    ids = []
    for i in range(20):
        case_id = open_contactable(service, chat_id=str(i))
        ids.append(service.reply(case_id, moderator_id, f"reply {i}"))
    lock = threading.Lock()
    delivered: list[tuple[str, str]] = []

    def deliver(chat_id, text):
        with lock:
            delivered.append((chat_id, text))

    senders = [sender(session_factory, vault, clock, deliver) for _ in range(2)]
    threads = [threading.Thread(target=s.run_once) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(delivered) == sorted((str(i), f"reply {i}") for i in range(20))


def test_a_dead_senders_claim_is_taken_over_after_the_lease(service, session_factory, vault,
                                                            clock, moderator_id):
    case_id = open_contactable(service)
    outbox_id = service.reply(case_id, moderator_id, "hello")
    s = sender(session_factory, vault, clock, Recorder(), lease=timedelta(minutes=5))
    assert s._claim(outbox_id) is not None  # claimed, then the process "dies"
    assert s.run_once().sent == 0
    clock.advance(minutes=6)
    assert s.run_once().sent == 1


def test_erased_worker_gets_nothing(service, session_factory, vault, clock, moderator_id):
    case_id = open_contactable(service)
    service.reply(case_id, moderator_id, "hello")
    assert service.erase_worker("w1", withdraw=False).outbox_dropped == 1
    deliver = Recorder()
    assert sender(session_factory, vault, clock, deliver).run_once().sent == 0
    assert deliver.sent == []


def test_web_pull_leases_replies_until_the_page_acknowledges_them(
    service, session_factory, vault, clock, moderator_id
):
    case_id = open_contactable(service, channel="web", chat_id="session-abc", worker_ref="wref")
    service.reply(case_id, moderator_id, "first")
    service.reply(case_id, moderator_id, "second")
    pull = PullOutbox(session_factory, vault, "web", clock=clock)
    assert pull.pending_for("someone-else") == []
    got = pull.pending_for("wref")
    assert [g.text for g in got] == ["first", "second"] and got[0].case_id == case_id
    # Leased: a poll inside the lease does not get them again.
    clock.advance(seconds=30)
    assert pull.pending_for("wref") == []
    # The response never reached the phone: after the lease they come back, same ids.
    clock.advance(seconds=31)
    again = pull.pending_for("wref")
    assert [(g.outbox_id, g.text) for g in again] == [(g.outbox_id, g.text) for g in got]
    # Another session cannot acknowledge them; the worker's page can, once.
    ids = [g.outbox_id for g in got]
    assert pull.acknowledge("someone-else", ids) == 0
    assert pull.acknowledge("wref", [*ids, ids[0], 999_999]) == 2
    assert pull.acknowledge("wref", ids) == 0 and pull.acknowledge("wref", []) == 0
    clock.advance(minutes=10)
    assert pull.pending_for("wref") == []
    with session_factory() as session:
        rows = session.execute(select(m.Outbox)).scalars().all()
    assert [r.status for r in rows] == ["sent", "sent"]
    assert all(r.text_enc is None and r.chat_id_enc is None for r in rows)


def test_web_pull_refuses_a_non_positive_lease(session_factory, vault):
    with pytest.raises(ValueError, match="lease"):
        PullOutbox(session_factory, vault, "web", lease=timedelta(0))


def test_run_forever_stops_on_event(service, session_factory, vault, clock, moderator_id):
    case_id = open_contactable(service)
    service.reply(case_id, moderator_id, "hello")
    deliver = Recorder()
    s = sender(session_factory, vault, clock, deliver)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(s.run_forever(stop, interval=0.01))
        for _ in range(200):
            if deliver.sent:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(main())
    assert deliver.sent == [("42", "hello")]


def test_sender_arguments_fail_fast(session_factory, vault):
    with pytest.raises(ValueError, match="max_attempts"):
        OutboxSender(session_factory, vault, "telegram", print, max_attempts=0)
    with pytest.raises(ValueError, match="channel"):
        OutboxSender(session_factory, vault, "", print)
