"""Moderators' replies to WeChat workers: the outbox sender with the WeChat delivery, on a
real SQLite database and the fake WeChat API server."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.channels.wechat_api import WeChatApi
from bot.channels.wechat_outbox import OUTSIDE_WINDOW, WeChatDelivery, requeue_waiting
from grievance import models as m
from grievance.db import make_session_factory
from grievance.outbox import DeliveryError, OutboxSender
from grievance.values import NewReport
from tests.bot.channels.wechat_fakes import APP_ID, APP_SECRET, OPENID, FakeWeChatApi
from tests.grievance.support import FakeClock, build_service, migrated_engine


@pytest.fixture
def fake():
    with FakeWeChatApi() as server:
        yield server


@pytest.fixture
def db(tmp_path):
    engine = migrated_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield make_session_factory(engine)
    engine.dispose()


def _case_with_reply(db, vault, clock, text: str) -> tuple[object, int, str]:
    service = build_service(db, vault, clock)
    moderator = service.create_moderator("mod", role="moderator", password_hash="x")
    worker_ref = vault.pseudonym("wechat", OPENID)
    opened = service.open_case(NewReport(
        category="wages", urgency="ongoing", account="no pay", contact_consent=True,
        worker_ref=worker_ref, channel="wechat", chat_id=OPENID))
    service.reply(opened.case_id, moderator, text)
    return service, opened.case_id, worker_ref


async def test_moderator_reply_is_delivered(fake, db, vault):
    clock = FakeClock()
    text = "我们收到了你的举报，会尽快联系工厂。"
    _case_with_reply(db, vault, clock, text)
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    delivery = WeChatDelivery(api)
    delivery.bind(asyncio.get_running_loop())
    sender = OutboxSender(db, vault, "wechat", delivery.deliver, clock=clock)
    try:
        report = await asyncio.to_thread(sender.run_once)
    finally:
        await api.aclose()
    assert report.sent == 1
    assert fake.sent[0][:2] == (OPENID, text)


async def test_outside_the_window_the_case_says_so_and_the_reply_waits(fake, db, vault):
    clock = FakeClock()
    service, case_id, worker_ref = _case_with_reply(db, vault, clock, "请回复我们")
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    delivery = WeChatDelivery(api)
    delivery.bind(asyncio.get_running_loop())
    sender = OutboxSender(db, vault, "wechat", delivery.deliver, clock=clock)
    try:
        fake.send_errcode = 45015  # the worker last wrote more than 48 hours ago
        report = await asyncio.to_thread(sender.run_once)
        assert report.failed == 1 and fake.sent == []
        with db() as session:
            row = session.execute(select(m.Outbox)).scalar_one()
            assert (row.status, row.last_error) == (m.OUTBOX_FAILED, OUTSIDE_WINDOW)
            events = session.execute(
                select(m.CaseEvent.kind).where(m.CaseEvent.case_id == case_id)).scalars().all()
        assert "delivery_failed" in events
        # Nothing more happens until the worker writes again ...
        assert (await asyncio.to_thread(sender.run_once)).sent == 0
        # ... which reopens the window: the reply goes out.
        fake.send_errcode = None
        assert requeue_waiting(db, worker_ref, clock=clock) == 1
        assert (await asyncio.to_thread(sender.run_once)).sent == 1
        assert fake.texts() == ["请回复我们"]
        assert requeue_waiting(db, worker_ref, clock=clock) == 0
    finally:
        await api.aclose()


async def test_delivery_errors_map_to_retry_or_give_up(fake):
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    delivery = WeChatDelivery(api, timeout=5)
    with pytest.raises(DeliveryError, match="not started"):
        delivery.deliver(OPENID, "x")
    delivery.bind(asyncio.get_running_loop())
    try:
        for code, permanent in ((43004, True), (45009, False), (-1, False)):
            fake.send_errcode = code
            with pytest.raises(DeliveryError) as caught:
                await asyncio.to_thread(delivery.deliver, OPENID, "x")
            assert caught.value.permanent is permanent
            assert OPENID not in caught.value.reason
        fake.send_errcode = None
        await asyncio.to_thread(delivery.deliver, OPENID, "长" * 1500)  # 4500 bytes: 3 parts
        assert len(fake.sent) == 3 and "".join(fake.texts()) == "长" * 1500
    finally:
        await api.aclose()
