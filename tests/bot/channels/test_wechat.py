"""The WeChat webhook over real HTTP: uvicorn on loopback, signed and encrypted XML built
by the tests, a fake WeChat API server for the customer-service messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from bot.app import App
from bot.channels.wechat import install, mount
from bot.channels.wechat_api import WeChatApi
from bot.channels.wechat_channel import WeChatChannel
from bot.channels.wechat_config import WeChatConfig
from bot.channels.wechat_xml import element_text
from bot.messages import Reply
from bot.server import create_server
from tests.bot.channels.test_wechat_xml import BILLION_LAUGHS, EXTERNAL_ENTITY
from tests.bot.channels.wechat_fakes import (
    ACCOUNT,
    APP_ID,
    OPENID,
    TOKEN,
    FakeAssistant,
    FakeHost,
    FakeWeChatApi,
    encrypted_post,
    event_xml,
    menu_reply,
    message_xml,
    query,
    text_xml,
    wechat_settings,
    wx_decrypt,
    wx_sign,
)


class Harness:
    """A running server with the WeChat channel, its fake API, and an HTTP client."""

    def __init__(self, url: str, host: FakeHost, fake_api: FakeWeChatApi,
                 channel: WeChatChannel) -> None:
        self.url, self.host, self.fake_api, self.channel = url, host, fake_api, channel
        self.http = httpx.Client(base_url=url, timeout=10, trust_env=False)

    @property
    def assistant(self) -> FakeAssistant:
        assistant: FakeAssistant = self.host.assistant
        return assistant

    def post(self, xml: str | bytes, params: dict[str, str] | None = None,
             **kw: Any) -> httpx.Response:
        body = xml.encode() if isinstance(xml, str) else xml
        return self.http.post("/wechat", params=params or query(), content=body, **kw)

    def answer(self, xml: str, params: dict[str, str] | None = None) -> str:
        """The answer however it came: passively, or (when slow) by customer service."""
        before = len(self.fake_api.sent)
        response = self.post(xml, params)
        if response.text == "success":
            return self.fake_api.wait_for(before + 1, timeout=60)[before]
        return self.reply_text(response)

    def reply_text(self, response: httpx.Response) -> str:
        assert response.status_code == 200, response.text
        assert element_text(response.text, "MsgType") == "text"
        assert element_text(response.text, "ToUserName") == OPENID
        assert element_text(response.text, "FromUserName") == ACCOUNT
        return field(response.text, "Content")


def field(xml: str, tag: str) -> str:
    value = element_text(xml, tag)
    assert value is not None, f"no <{tag}> in the reply"
    return value


def serve(host: Any, mounts: list[Any]) -> FastAPI:
    """The server around a fake host (duck-typed as an App)."""
    return create_server(cast(App, host), mounts)


@pytest.fixture
def wechat(live_server):
    """Start a server: ``with wechat(assistant=..., aes=..., budget=...) as h: ...``."""

    @contextmanager
    def start(assistant: Any = None, *, aes: bool = False, secret: bool = True,
              budget: float = 4.0, host: Any = None) -> Iterator[Harness]:
        with FakeWeChatApi() as fake_api:
            settings = wechat_settings(aes=aes, api_base=fake_api.url, secret=secret)
            if host is None:
                host = FakeHost(assistant or FakeAssistant(), settings)
            else:
                host.settings.secrets = settings.secrets
            config = WeChatConfig.from_settings(host.settings, reply_budget=budget)
            client = WeChatApi(APP_ID, "s3cr3t-app-secret", fake_api.url) if secret else None
            channel = WeChatChannel(config, host, api=client)
            made: list[WeChatChannel] = [channel]

            def wechat_mount(api: FastAPI, app: Any) -> None:
                install(api, made[0])
                api.state.on_shutdown.append(made[0].aclose)

            with live_server(serve(host, [wechat_mount])) as server:
                harness = Harness(server.url, host, fake_api, channel)
                try:
                    yield harness
                finally:
                    harness.http.close()

    return start


# -- the URL check -------------------------------------------------------------------------
def test_url_check_answers_echostr_only_when_signed(wechat):
    with wechat() as h:
        ok = h.http.get("/wechat", params=query(echostr="7781209"))
        assert (ok.status_code, ok.text) == (200, "7781209")
        forged = query(echostr="1")
        forged["signature"] = "0" * 40
        assert h.http.get("/wechat", params=forged).status_code == 403
        other_token = query(token="not-ours", echostr="1")
        assert h.http.get("/wechat", params=other_token).status_code == 403
        stale = query(timestamp=int(time.time()) - 3600, echostr="1")
        assert h.http.get("/wechat", params=stale).status_code == 403
        assert h.http.get("/wechat", params={"echostr": "1"}).status_code == 403
        assert h.http.get("/wechat", params=query()).status_code == 400


# -- messages ----------------------------------------------------------------------------------
def test_text_message_gets_a_passive_reply(wechat):
    with wechat() as h:
        response = h.post(text_xml("加班费怎么算", msg_id="5001"))
        assert h.reply_text(response) == "echo: 加班费怎么算"
        (message,) = h.assistant.messages
        assert (message.channel, message.user, message.text, message.message_id) == (
            "wechat", OPENID, "加班费怎么算", "msg:5001")


def test_safe_mode_decrypts_and_encrypts_the_reply(wechat):
    with wechat(aes=True) as h:
        params, body = encrypted_post(text_xml("工伤怎么办", msg_id="6001"))
        response = h.post(body, params)
        assert response.status_code == 200
        encrypted = field(response.text, "Encrypt")
        timestamp = field(response.text, "TimeStamp")
        nonce = field(response.text, "Nonce")
        assert field(response.text, "MsgSignature") == wx_sign(
            TOKEN, timestamp, nonce, encrypted)
        xml, app_id = wx_decrypt(encrypted)
        assert app_id == APP_ID
        assert element_text(xml, "Content") == "echo: 工伤怎么办"
        assert element_text(xml, "ToUserName") == OPENID
        assert [m.text for m in h.assistant.messages] == ["工伤怎么办"]


def test_safe_mode_refusals_store_nothing(wechat):
    with wechat(aes=True) as h:
        assert h.post(text_xml("plaintext while a key is set")).status_code == 400
        params, body = encrypted_post(text_xml("x"))
        params["msg_signature"] = "0" * 40
        assert h.post(body, params).status_code == 403
        params, body = encrypted_post(text_xml("x"))
        params["signature"] = "0" * 40
        assert h.post(body, params).status_code == 403
        # Encrypted with our key but for another account.
        from tests.bot.channels import wechat_fakes

        other = wechat_fakes.wx_encrypt(text_xml("x"), app_id="wx0000000000000000")
        params = query(encrypt_type="aes")
        params["msg_signature"] = wx_sign(TOKEN, params["timestamp"], params["nonce"], other)
        assert h.post(f"<xml><Encrypt><![CDATA[{other}]]></Encrypt></xml>",
                      params).status_code == 400
        assert h.assistant.messages == []


def test_voice_uses_the_recognised_text(wechat):
    with wechat() as h:
        voice = message_xml("voice", msg_id="7001", MediaId="m1", Format="amr",
                            Recognition="老板不给加班费")
        assert h.reply_text(h.post(voice)) == "echo: 老板不给加班费"
        unclear = message_xml("voice", msg_id="7002", MediaId="m2", Format="amr",
                              Recognition="")
        assert "没听清" in h.reply_text(h.post(unclear))
        assert [m.text for m in h.assistant.messages] == ["老板不给加班费"]


@pytest.mark.parametrize("kind", ["image", "video", "shortvideo", "location", "link", "file"])
def test_other_message_types_get_text_or_voice_only(wechat, kind):
    with wechat() as h:
        text = h.reply_text(h.post(message_xml(kind, msg_id="8001", MediaId="m")))
        assert "文字和语音" in text
        assert h.assistant.messages == []


def test_subscribe_sends_start_and_menu_clicks_send_their_key(wechat):
    with wechat() as h:
        h.reply_text(h.post(event_xml("subscribe", create_time=1700000000)))
        h.reply_text(h.post(event_xml("CLICK", "/report", create_time=1700000005)))
        start, click = h.assistant.messages
        assert start.text == "/start" and click.text == "/report"
        user_ref = h.host.vault.pseudonym("wechat", OPENID)
        assert start.message_id == f"ev:{user_ref}:1700000000"
        assert OPENID not in (start.message_id or "")  # stored by the Assistant
        for silent in ("unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH"):
            response = h.post(event_xml(silent, create_time=1700000010))
            assert (response.status_code, response.text) == (200, "success")
        assert len(h.assistant.messages) == 2


def test_buttons_become_numbers_and_a_digit_presses_the_button(wechat):
    def answer(message):
        return menu_reply("What next?") if message.text == "hi" else [Reply(f"got {message.text}")]

    with wechat(FakeAssistant(answer)) as h:
        text = h.reply_text(h.post(text_xml("hi", msg_id="1")))
        assert "回复数字：" in text and "【1】Report" in text and "【2】Human" in text
        assert h.reply_text(h.post(text_xml("２", msg_id="2"))) == "got /human"
        # The menu is gone once a reply without buttons was sent.
        assert h.reply_text(h.post(text_xml("1", msg_id="3"))) == "got 1"


def test_assistant_failure_gives_the_error_text(wechat):
    def broken(message):
        raise RuntimeError("boom")

    with wechat(FakeAssistant(broken)) as h:
        assert "12333" in h.reply_text(h.post(text_xml("x")))


# -- retries, slow answers and long answers ----------------------------------------------------
def test_retries_of_the_same_msgid_give_one_answer(wechat):
    with wechat() as h:
        first = h.reply_text(h.post(text_xml("最低工资", msg_id="9001")))
        # WeChat retries only when our response did not reach it: repeat the same answer.
        for _ in range(3):
            assert h.reply_text(h.post(text_xml("最低工资", msg_id="9001"))) == first
        assert len(h.assistant.messages) == 1
        assert h.fake_api.sent == []


def test_a_redelivery_after_a_restart_is_answered_success(wechat):
    assistant = FakeAssistant()
    with wechat(assistant) as h:
        h.reply_text(h.post(text_xml("x", msg_id="9100")))
    with wechat(assistant) as h:  # a new process: only the Assistant's store remembers
        response = h.post(text_xml("x", msg_id="9100"))
        assert (response.status_code, response.text) == (200, "success")
        assert h.fake_api.sent == []


async def test_slow_answer_switches_to_the_customer_service_api(wechat):
    with wechat(FakeAssistant(delay=1.0), budget=0.3) as h:
        async with httpx.AsyncClient(base_url=h.url, trust_env=False, timeout=10) as http:
            started = time.monotonic()
            body = text_xml("慢问题", msg_id="9200").encode()
            first = await http.post("/wechat", params=query(), content=body)
            elapsed = time.monotonic() - started
            assert (first.status_code, first.text) == (200, "success")
            assert elapsed < 0.9
            # WeChat's retries while the answer is still being prepared.
            retries = await asyncio.gather(
                *(http.post("/wechat", params=query(), content=body) for _ in range(3)))
            assert all(r.text == "success" for r in retries)
        texts = await asyncio.to_thread(h.fake_api.wait_for, 1)
        assert texts == ["echo: 慢问题"]
        await asyncio.sleep(0.3)
        assert len(h.fake_api.sent) == 1 and len(h.assistant.messages) == 1
        assert h.fake_api.sent[0][0] == OPENID


def test_long_answer_fills_the_passive_reply_and_sends_the_rest(wechat):
    long_text = "\n\n".join(f"第{i}段：" + "劳动者享有取得劳动报酬的权利。" * 12 for i in range(8))
    with wechat(FakeAssistant(lambda m: [Reply(long_text), Reply("最后一条")])) as h:
        passive = h.reply_text(h.post(text_xml("x", msg_id="9300")))
        assert len(passive.encode()) <= 2000
        total = len((long_text + "最后一条").encode())
        rest = h.fake_api.wait_for(-(-total // 2000) - 1)
        time.sleep(0.2)
        rest = h.fake_api.texts()
        assert all(len(t.encode()) <= 2000 for t in rest)
        joined = "".join([passive, *rest]).replace("\n", "")
        assert joined == (long_text + "最后一条").replace("\n", "")


def test_without_an_app_secret_everything_is_passive(wechat):
    long_text = "工资。" * 1500
    with wechat(FakeAssistant(lambda m: [Reply(long_text)]), secret=False) as h:
        passive = h.reply_text(h.post(text_xml("x", msg_id="9400")))
        assert len(passive.encode()) <= 2000 and passive.endswith("…")
    with wechat(FakeAssistant(delay=1.0), secret=False, budget=0.3) as h:
        assert "再发一次" in h.reply_text(h.post(text_xml("x", msg_id="9401")))


# -- refusals ---------------------------------------------------------------------------------
def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("case", ["bad signature", "no signature", "malformed", "not wechat",
                                  "billion laughs", "external entity", "oversize",
                                  "oversize chunked", "over the server cap"])
def test_bad_requests_are_refused_and_nothing_is_stored(wechat, case):
    big = text_xml("x" * 100_000).encode()
    forged = query()
    forged["signature"] = wx_sign("wrong", forged["timestamp"], forged["nonce"])
    requests: dict[str, tuple[Any, dict[str, str], int]] = {
        "bad signature": (text_xml("x"), forged, 403),
        "no signature": (text_xml("x"), {"timestamp": "1", "nonce": "2"}, 403),
        "malformed": (b"<xml><Content>x</xml>", query(), 400),
        "not wechat": (b"<html></html>", query(), 400),
        "billion laughs": (BILLION_LAUGHS, query(), 400),
        "external entity": (EXTERNAL_ENTITY, query(), 400),
        "oversize": (big, query(), 413),
        "oversize chunked": (_chunks(big), query(), 413),
        "over the server cap": (b"<xml>" + b" " * 300_000 + b"</xml>", query(), 413),
    }
    body, params, status = requests[case]
    with wechat() as h:
        if isinstance(body, bytes | str):
            response = h.post(body, params)
        else:
            response = h.http.post("/wechat", params=params, content=body)
        assert response.status_code == status
        assert h.assistant.messages == []
        assert h.fake_api.sent == []


# -- the server hook with the settings, and the real App ---------------------------------------
def test_mount_from_settings(live_server):
    settings = wechat_settings(aes=False, api_base="http://127.0.0.1:9")
    host = FakeHost(FakeAssistant(), settings)
    with live_server(serve(host, [mount])) as server, \
            httpx.Client(base_url=server.url, trust_env=False) as http:
        assert http.get("/wechat", params=query(echostr="ok")).text == "ok"
        response = http.post("/wechat", params=query(), content=text_xml("hi").encode())
        assert field(response.text, "Content") == "echo: hi"


def test_end_to_end_with_the_real_app(wechat, app: App):
    with wechat(host=app) as h:
        # On a loaded machine the first answer may miss the 4 s budget: accept either path.
        welcome = h.answer(event_xml("subscribe", create_time=1700000100))
        assert "WorkRight" in welcome and "回复数字：" in welcome and "【2】English" in welcome
        # "2" presses the second button of the language menu: English.
        chosen = h.answer(text_xml("2", msg_id="e2e-1"))
        assert chosen.startswith("OK, I will answer in English.")
        assert "Which country" in chosen and "【1】China" in chosen  # then the country menu
        assert h.answer(text_xml("How is overtime paid?", msg_id="e2e-2"))
        from sqlalchemy import func, select

        from grievance.conversations import InboundMessage

        with app.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(InboundMessage)).scalar()
        forged = query()
        forged["signature"] = "0" * 40
        assert h.post(text_xml("x", msg_id="e2e-3"), forged).status_code == 403
        assert h.post(BILLION_LAUGHS).status_code == 400
        with app.engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(InboundMessage)).scalar()
        assert after == stored == 3


def test_a_reply_that_missed_the_window_goes_out_when_the_worker_writes(live_server, tmp_path):
    from bot.channels.wechat_outbox import attach_outbox
    from grievance import models as m
    from grievance.db import make_session_factory
    from grievance.values import NewReport
    from tests.grievance.support import build_service, migrated_engine

    engine = migrated_engine(f"sqlite:///{tmp_path / 'wr.db'}")
    sessions = make_session_factory(engine)
    with FakeWeChatApi() as fake_api:
        host = FakeHost(FakeAssistant(), wechat_settings(api_base=fake_api.url),
                        services={"sessions": sessions})
        service = build_service(sessions, host.vault)
        moderator = service.create_moderator("mod", role="moderator", password_hash="x")
        opened = service.open_case(NewReport(
            category="wages", urgency="ongoing", contact_consent=True, channel="wechat",
            chat_id=OPENID, worker_ref=host.vault.pseudonym("wechat", OPENID)))
        config = WeChatConfig.from_settings(host.settings)
        channel = WeChatChannel(config, host, api=WeChatApi(APP_ID, "s3cr3t-app-secret",
                                                            fake_api.url))

        def wechat_mount(api: FastAPI, app: Any) -> None:
            install(api, channel)
            api.state.on_shutdown.append(channel.aclose)
            attach_outbox(api, app, channel, interval=0.05)

        fake_api.send_errcode = 45015
        with live_server(serve(host, [wechat_mount])) as server:
            service.reply(opened.case_id, moderator, "主持人的回复")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with sessions() as session:
                    row = session.query(m.Outbox).one()
                    if row.status == m.OUTBOX_FAILED:
                        break
                time.sleep(0.05)
            assert row.status == m.OUTBOX_FAILED
            fake_api.send_errcode = None
            with httpx.Client(base_url=server.url, trust_env=False) as http:
                http.post("/wechat", params=query(), content=text_xml("在吗", msg_id="w1").encode())
            assert fake_api.wait_for(1) == ["主持人的回复"]
    engine.dispose()


async def test_the_load_script_measures_the_webhook(wechat):
    from bot.channels.wechat_bench import run_load

    with wechat() as h:
        result = await run_load(h.url + "/wechat", TOKEN, n=30, concurrency=4, users=3)
        assert (result.messages, result.passive, result.errors) == (30, 30, 0)
        assert result.per_second > 0 and result.p95_ms >= result.p50_ms > 0
        assert len(h.assistant.messages) == 30
    with pytest.raises(ValueError, match="concurrency"):
        await run_load("http://127.0.0.1:9/wechat", TOKEN, n=1, concurrency=1000)
