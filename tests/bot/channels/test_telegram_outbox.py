"""Moderators' replies to Telegram: Bot API errors as the outbox sender's DeliveryError."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_render import MAX_TEXT
from grievance.outbox import DeliveryError
from tests.bot.channels.telegram_fakes import (
    CHAT,
    SECRET,
    FakeBotApi,
    FakeBotApiRequest,
    StubAssistant,
    stub_app,
    webhook_config,
)


async def test_deliver_maps_telegram_errors_for_the_outbox(sessions):
    api = FakeBotApi()
    channel = TelegramChannel(stub_app(StubAssistant(), sessions), webhook_config(),
                              request=FakeBotApiRequest(api), rate_limit_retries=0)
    with pytest.raises(DeliveryError, match="not running"):
        channel.delivery.deliver(str(CHAT), "hello")
    await channel.start()
    try:
        assert api.webhook["url"] == webhook_config().webhook_url
        assert api.webhook["secret_token"] == SECRET
        await asyncio.to_thread(channel.delivery.deliver, str(CHAT), "第一段\n\n" + "长" * 5000)
        assert [len(t) for t in api.texts(CHAT)] == [3, MAX_TEXT, 5000 - MAX_TEXT]

        api.fail("sendMessage", code=429, description="Too Many Requests: retry after 7",
                 retry_after=7)
        with pytest.raises(DeliveryError) as limited:
            await asyncio.to_thread(channel.delivery.deliver, str(CHAT), "hello")
        assert limited.value.retry_after == 7 and not limited.value.permanent

        api.fail("sendMessage", code=403, description="Forbidden: bot was blocked by the user")
        with pytest.raises(DeliveryError) as blocked:
            await asyncio.to_thread(channel.delivery.deliver, str(CHAT), "hello")
        assert blocked.value.permanent and str(CHAT) not in blocked.value.reason

        api.fail("sendMessage", code=400, description="Bad Request: chat not found")
        with pytest.raises(DeliveryError) as rejected:
            await asyncio.to_thread(channel.delivery.deliver, "12", "hello")
        assert rejected.value.permanent

        api.fail("sendMessage", code=502, description="Bad Gateway")
        with pytest.raises(DeliveryError) as gateway:
            await asyncio.to_thread(channel.delivery.deliver, str(CHAT), "hello")
        assert not gateway.value.permanent

        with pytest.raises(DeliveryError, match="malformed chat id"):
            await asyncio.to_thread(channel.delivery.deliver, "not-a-chat", "hello")
        with pytest.raises(RuntimeError, match="worker thread"):
            channel.delivery.deliver(str(CHAT), "from the event loop")
    finally:
        await channel.stop()
    with pytest.raises(DeliveryError, match="not running"):
        channel.delivery.deliver(str(CHAT), "hello")
