"""The WeChat API client against a fake WeChat server on loopback."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.wechat_api import (
    OutsideReplyWindow,
    RecipientUnavailable,
    WeChatApi,
    WeChatApiError,
    WeChatUnavailable,
)
from tests.bot.channels.wechat_fakes import APP_ID, APP_SECRET, FakeWeChatApi


@pytest.fixture
def fake():
    with FakeWeChatApi() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_token_is_cached_and_refreshed_before_expiry(fake):
    clock = Clock()
    api = WeChatApi(APP_ID, APP_SECRET, fake.url, refresh_margin=300, clock=clock)
    try:
        assert await api.access_token() == "tok-1"
        clock.now += 6000
        assert await api.access_token() == "tok-1"
        clock.now += 1000  # 7000 s: inside the 300 s margin before the 7200 s expiry
        assert await api.access_token() == "tok-2"
        assert fake.token_calls == 2
    finally:
        await api.aclose()


async def test_one_refresh_at_a_time(fake):
    fake.token_delay = 0.2
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    try:
        await asyncio.gather(*(api.send_text(f"o{i}", "hi") for i in range(20)))
    finally:
        await api.aclose()
    assert fake.token_calls == 1 and api.refreshes == 1
    assert len(fake.sent) == 20


async def test_rejected_token_is_refreshed_once_and_the_send_retried(fake):
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    try:
        await api.send_text("o1", "first")
        fake.revoke_tokens()  # e.g. another process fetched a token
        await api.send_text("o1", "second")
    finally:
        await api.aclose()
    assert fake.texts() == ["first", "second"] and fake.token_calls == 2


async def test_text_is_sent_as_utf8_json_without_escapes(fake):
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    try:
        await api.send_text("o1", "你好，工友")
    finally:
        await api.aclose()
    openid, content, raw = fake.sent[0]
    assert (openid, content) == ("o1", "你好，工友")
    assert "你好，工友".encode() in raw and b"\\u" not in raw


@pytest.mark.parametrize(("code", "error"), [(45015, OutsideReplyWindow),
                                             (45047, OutsideReplyWindow),
                                             (43004, RecipientUnavailable),
                                             (45009, WeChatApiError)])
async def test_errors_are_typed(fake, code, error):
    fake.send_errcode = code
    api = WeChatApi(APP_ID, APP_SECRET, fake.url)
    try:
        with pytest.raises(error) as caught:
            await api.send_text("o1", "hi")
    finally:
        await api.aclose()
    assert caught.value.errcode == code


async def test_bad_credentials_and_unreachable_server(fake):
    api = WeChatApi(APP_ID, "wrong", fake.url)
    try:
        with pytest.raises(WeChatApiError) as caught:
            await api.access_token()
        assert caught.value.errcode == 40013
    finally:
        await api.aclose()
    fake.__exit__()
    api = WeChatApi(APP_ID, APP_SECRET, fake.url, timeout=1)
    try:
        with pytest.raises(WeChatUnavailable):
            await api.send_text("o1", "hi")
    finally:
        await api.aclose()


def test_credentials_are_required():
    with pytest.raises(ValueError, match="WECHAT_APP_SECRET"):
        WeChatApi(APP_ID, "")
