"""The Telegram channel: updates from recorded JSON offline, then whole conversations with
the real App through a fake Bot API of our own over real HTTP, in polling and webhook mode."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram import Bot, Update

from bot.answers import citation
from bot.app import App
from bot.channels.telegram import (
    COMMANDS,
    SECRET_HEADER,
    WEBHOOK_PATH,
    TelegramChannel,
    incoming,
    mount,
)
from bot.channels.telegram_config import TelegramConfig, derive_secret
from bot.config import ConfigError, Secrets
from bot.i18n import Catalogue
from bot.messages import Message
from bot.server import create_server
from grievance import models as m
from tests.bot.channels.telegram_fakes import (
    CHAT,
    SECRET,
    TOKEN,
    FakeBotApi,
    FakeBotApiRequest,
    OfflineRequest,
    ProcessedUpdates,
    StubAssistant,
    Worker,
    create_fake_server,
    stub_app,
    webhook_config,
)

CODE_RE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")

# Recorded shapes of what Telegram sends (Bot API 9.x), ids changed.
RECORDED_TEXT = {
    "update_id": 483021931,
    "message": {
        "message_id": 17,
        "from": {"id": CHAT, "is_bot": False, "first_name": "阿芳", "language_code": "zh-hans"},
        "chat": {"id": CHAT, "first_name": "阿芳", "type": "private"},
        "date": 1763716800,
        "text": "加班费怎么算",
    },
}
RECORDED_BUTTON = {
    "update_id": 483021932,
    "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": {"id": CHAT, "is_bot": False, "first_name": "阿芳", "language_code": "zh-hans"},
        "message": {"message_id": 18, "from": {"id": 7357000001, "is_bot": True,
                                               "first_name": "WorkRight"},
                    "chat": {"id": CHAT, "first_name": "阿芳", "type": "private"},
                    "date": 1763716801, "text": "…"},
        "chat_instance": "-5012345678901234567",
        "data": "report:consent:yes",
    },
}
RECORDED_GROUP = {
    "update_id": 483021933,
    "message": {
        "message_id": 4,
        "from": {"id": CHAT, "is_bot": False, "first_name": "阿芳"},
        "chat": {"id": -1001234567890, "title": "Line 3", "type": "supergroup"},
        "date": 1763716802,
        "text": "/report@workright_test_bot",
        "entities": [{"offset": 0, "length": 26, "type": "bot_command"}],
    },
}
RECORDED_PHOTO = {
    "update_id": 483021934,
    "message": {
        "message_id": 19,
        "from": {"id": CHAT, "is_bot": False, "first_name": "阿芳"},
        "chat": {"id": CHAT, "first_name": "阿芳", "type": "private"},
        "date": 1763716803,
        "photo": [{"file_id": "AgACAgIAAxk", "file_unique_id": "AQADf", "width": 90,
                   "height": 67, "file_size": 1254}],
        "caption": "这是我的工资条",
    },
}


def offline_bot() -> Bot:
    return Bot(TOKEN, request=OfflineRequest(), get_updates_request=OfflineRequest())


# -- offline: updates, rendering, configuration ------------------------------------------------


def test_recorded_updates_become_messages_without_network():
    bot = offline_bot()
    text = Update.de_json(RECORDED_TEXT, bot)
    assert text.message is not None and text.message.text is not None
    assert incoming(text, text.message.text) == Message(
        channel="telegram", user=str(CHAT), text="加班费怎么算", message_id="483021931:17")
    button = Update.de_json(RECORDED_BUTTON, bot)
    assert button.callback_query is not None and button.callback_query.data is not None
    pressed = incoming(button, button.callback_query.data)
    assert pressed is not None and pressed.text == "report:consent:yes"
    assert pressed.user == str(CHAT) and pressed.message_id == "483021932:18"
    group = Update.de_json(RECORDED_GROUP, bot)
    assert incoming(group, "/report") is None  # never in front of colleagues


# -- in-process: the handlers with a fake assistant ------------------------------------------


@contextmanager
def in_process(assistant: StubAssistant, **kwargs: Any) -> Iterator[tuple[TelegramChannel,
                                                                          FakeBotApi]]:
    api = FakeBotApi()
    channel = TelegramChannel(stub_app(assistant), webhook_config(),
                              request=FakeBotApiRequest(api), **kwargs)
    yield channel, api


async def process(channel: TelegramChannel, data: dict[str, Any]) -> None:
    await channel.application.process_update(Update.de_json(data, channel.application.bot))


async def test_messages_and_button_presses_reach_the_assistant():
    assistant = StubAssistant()
    with in_process(assistant) as (channel, api):
        await channel.application.initialize()
        await process(channel, api.text_update(CHAT, "加班费怎么算"))
        await process(channel, api.button_update(CHAT, "/report"))
        await process(channel, RECORDED_PHOTO)
        await channel.application.shutdown()
    assert [m.text for m in assistant.messages] == ["加班费怎么算", "/report", "这是我的工资条"]
    assert api.count("answerCallbackQuery") == 1
    sent = api.sent(CHAT)
    assert [s["text"] for s in sent] == ["答案"] * 3
    assert "parse_mode" not in sent[0]  # plain text: nothing to escape
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/report"


async def test_groups_get_a_pointer_to_a_private_chat_and_nothing_else():
    assistant = StubAssistant()
    with in_process(assistant) as (channel, api):
        await channel.application.initialize()
        await process(channel, RECORDED_GROUP)
        await process(channel, api.text_update(-100777, "老板打人", chat_type="group"))
        await channel.application.shutdown()
    assert assistant.messages == []
    catalogue = Catalogue.load()
    assert [s["text"] for s in api.sent()] == [catalogue.text("telegram_private_only", "zh")]


async def test_an_expired_button_says_so():
    assistant = StubAssistant()
    with in_process(assistant) as (channel, api):
        await channel.application.initialize()
        await process(channel, api.button_update(CHAT, "~0123456789abcdef01234567",
                                                 language_code="en"))
        await channel.application.shutdown()
    assert assistant.messages == []
    assert api.texts(CHAT) == [Catalogue.load().text("telegram_button_expired", "en")]


async def test_the_error_boundary_logs_update_and_handler_only(caplog):
    secret_text = "我在东莞太阳制衣厂被老板打了"
    assistant = StubAssistant(error=RuntimeError(secret_text))
    with in_process(assistant) as (channel, api):
        await channel.application.initialize()
        update = api.text_update(CHAT, secret_text, language_code="en-GB")
        with caplog.at_level(logging.INFO):
            await process(channel, update)
        await channel.application.shutdown()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"update={update['update_id']} failed in on_message: RuntimeError" in logged
    assert secret_text not in logged and str(CHAT) not in logged and TOKEN not in logged
    assert api.texts(CHAT) == [Catalogue.load().text("telegram_error", "en")]
    assert "/human" in api.texts(CHAT)[0] and "12333" in api.texts(CHAT)[0]


async def test_nothing_identifying_is_logged_even_at_debug_level(caplog):
    caplog.set_level(logging.DEBUG)
    with in_process(StubAssistant()) as (channel, api):
        await channel.application.initialize()
        await process(channel, api.text_update(CHAT, "我在东莞太阳制衣厂上班"))
        await process(channel, api.button_update(CHAT, "report:consent:yes"))
        await channel.application.shutdown()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged.count("telegram update=") == 2  # update ids and pseudonyms only
    for private in ("东莞太阳制衣厂", "report:consent:yes", str(CHAT), TOKEN, "答案"):
        assert private not in logged


async def test_errors_outside_an_update_are_only_logged(caplog):
    with in_process(StubAssistant()) as (channel, api):
        context: Any = SimpleNamespace(error=ConnectionError("down"))
        with caplog.at_level(logging.WARNING):
            await channel.on_error(None, context)
    assert "ConnectionError outside an update" in caplog.text
    assert api.calls == []


async def test_replies_wait_out_retry_after_through_the_rate_limiter():
    with in_process(StubAssistant()) as (channel, api):
        await channel.application.initialize()
        api.fail("sendMessage", code=429, description="Too Many Requests: retry after 1",
                 retry_after=1)
        started = time.monotonic()
        await process(channel, api.text_update(CHAT, "hi"))
        await channel.application.shutdown()
    assert time.monotonic() - started >= 1.0
    assert api.count("sendMessage") == 2 and api.texts(CHAT) == ["答案"]


async def test_a_rejected_token_stops_start_up_without_showing_it(sessions):
    api = FakeBotApi(token="1:the-token-botfather-knows")
    channel = TelegramChannel(stub_app(StubAssistant(), sessions), webhook_config(),
                              request=FakeBotApiRequest(api))
    with pytest.raises(ConfigError, match="rejected TELEGRAM_BOT_TOKEN") as info:
        await channel.start()
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert TOKEN not in str(info.value)


# -- over real HTTP: the real App, the fake Bot API on loopback -----------------------------


@contextmanager
def running_bot(app: App, live_server, *, webhook: bool) -> Iterator[SimpleNamespace]:
    api = FakeBotApi()
    processed = ProcessedUpdates()
    with live_server(create_fake_server(api)) as fake:
        config = TelegramConfig(
            token=TOKEN, api_base=fake.url,
            webhook_url="https://bot.example.org/telegram/webhook" if webhook else None,
            webhook_secret=SECRET if webhook else "")
        channel = TelegramChannel(app, config, poll_timeout=2, outbox_interval=0.2,
                                  on_processed=processed)
        with live_server(create_server(app, [lambda api_, _app: channel.mount(api_)])) as server:
            http = httpx.Client(base_url=server.url, timeout=30, trust_env=False)

            def post(update: dict[str, Any]) -> None:
                response = http.post(WEBHOOK_PATH, json=update, headers={SECRET_HEADER: SECRET})
                assert response.status_code == 200

            deliver = post if webhook else api.push
            yield SimpleNamespace(api=api, channel=channel, http=http, server=server,
                                  worker=Worker(api, deliver, processed), processed=processed)
            http.close()


def count_cases(app: App) -> int:
    with app.services["sessions"]() as session:
        return int(session.execute(select(func.count(m.Case.id))).scalar_one())


def converse(app: App, bot: SimpleNamespace) -> str:
    """/start, a question with its citation, a report to its receipt code, the status."""
    worker = bot.worker
    start = worker.say("/start")
    assert start[0] == app.catalogue.text("welcome", "zh")
    chosen = worker.press("lang:zh")
    assert chosen[0] == app.catalogue.text("language_set", "zh")
    assert chosen[1] == app.catalogue.text("choose_country", "zh")  # then the country menu
    worker.press("country:CN")

    answer = worker.say("公司不和我签劳动合同怎么办")
    titles = [citation(key, "zh").title for key in ("CN-LCL:82", "CN-LCL:10")]
    assert any(title in answer[-1] for title in titles), answer
    law_buttons = [b["callback_data"] for row in bot.api.sent(CHAT)[-1]["reply_markup"][
        "inline_keyboard"] for b in row if b["callback_data"].startswith("law:")]
    assert law_buttons
    assert "第" in worker.press(law_buttons[0])[0]

    assert worker.say("/report")[0] == app.catalogue.text("report_consent", "zh")
    worker.press("report:consent:yes")
    worker.say("老板三个月没发工资了，我们每天加班到十一点。")
    worker.press("report:done")
    worker.press("report:cat:wages")
    worker.press("report:urg:ongoing")
    for _ in range(3):  # employer, place, number of workers
        worker.press("report:skip")
    worker.press("report:contact:yes")
    saved = worker.press("report:send")
    assert saved[0] == app.catalogue.text("report_saved", "zh")
    code = CODE_RE.search(saved[1])
    assert code is not None, saved
    assert count_cases(app) == 1

    status = worker.say(f"/status {code.group(0)}")
    received = app.catalogue.text("status_new", "zh", due="").split("（")[0]
    assert any(received in text for text in status), status
    return code.group(0)


def test_a_whole_conversation_by_polling(app, live_server):
    with running_bot(app, live_server, webhook=False) as bot:
        converse(app, bot)
        assert bot.api.count("deleteWebhook") == 1 and bot.api.count("getUpdates") >= 1
        assert bot.http.post(WEBHOOK_PATH, json={}).status_code == 404  # no webhook route
        commands = bot.api.commands
        assert [c["command"] for c in commands["zh"]] == list(COMMANDS)
        assert commands["zh"][4]["description"] == app.catalogue.text("telegram_cmd_report", "zh")
        assert commands["en"][4]["description"] == app.catalogue.text("telegram_cmd_report", "en")
        assert commands[""] == commands["zh"]  # the default language for everybody else

        # A lost acknowledgement: Telegram hands the same update out again.
        repeat = bot.api.text_update(CHAT, "加班费怎么算")
        first = bot.worker.send(repeat)
        before = len(bot.api.sent(CHAT))
        bot.api.redeliver(repeat)
        bot.processed.wait(repeat["update_id"])
        time.sleep(0.5)
        assert first and len(bot.api.sent(CHAT)) == before


def test_a_whole_conversation_by_webhook(app, live_server):
    with running_bot(app, live_server, webhook=True) as bot:
        assert bot.api.webhook["url"] == "https://bot.example.org/telegram/webhook"
        assert bot.api.webhook["secret_token"] == SECRET
        assert bot.api.webhook["allowed_updates"] == ["message", "callback_query"]
        intruder = bot.api.text_update(CHAT, "/report")
        for headers in ({}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: SECRET + "x"}):
            response = bot.http.post(WEBHOOK_PATH, json=intruder, headers=headers)
            assert response.status_code == 403
        for body in (b"{not json", b"[]", b"{}", b'{"update_id": "x"}',
                     b'{"update_id": 1, "message": {"chat": 1}}'):
            bad = bot.http.post(WEBHOOK_PATH, content=body, headers={SECRET_HEADER: SECRET})
            assert bad.status_code == 400, body
        time.sleep(0.3)
        assert bot.api.sent() == []  # nothing forbidden was handled
        converse(app, bot)


def test_a_redelivered_update_gives_one_answer_and_one_case(app, live_server):
    with running_bot(app, live_server, webhook=True) as bot:
        worker = bot.worker
        question = bot.api.text_update(CHAT, "加班费怎么算")
        for _ in range(2):
            worker.deliver(question)
        bot.processed.wait(question["update_id"])
        time.sleep(0.3)
        answered = len(bot.api.sent(CHAT))
        assert answered >= 1
        worker.say("/report")
        worker.press("report:consent:yes")
        worker.say("工厂扣了我的身份证。")
        for value in ("report:done", "report:cat:forced_labour", "report:urg:ongoing",
                      "report:skip", "report:skip", "report:skip", "report:contact:no"):
            worker.press(value)
        send = bot.api.button_update(CHAT, "report:send")
        before = len(bot.api.sent(CHAT))
        for _ in range(3):
            worker.deliver(send)
        bot.processed.wait(send["update_id"])
        time.sleep(0.3)
        assert len(bot.api.sent(CHAT)) - before == 3  # saved, the code, what happens next
        assert count_cases(app) == 1


def test_moderator_replies_reach_the_worker_through_the_outbox(app, live_server):
    service = app.services["grievance"]
    moderator = service.create_moderator("mod", role="moderator", password_hash="x")
    with running_bot(app, live_server, webhook=True) as bot:
        worker = bot.worker
        worker.say("/report")
        worker.press("report:consent:yes")
        worker.say("宿舍没有消防通道。")
        for value in ("report:done", "report:cat:injury_safety", "report:urg:ongoing",
                      "report:skip", "report:skip", "report:skip", "report:contact:yes",
                      "report:send"):
            worker.press(value)
        case_id = service.list_cases()[0].case_id
        service.reply(case_id, moderator, "我们已经收到，会联系劳动监察。")
        bot.api.wait_for(lambda: outbox(app) == [m.OUTBOX_SENT], 30, "the reply marked sent")
        reported = service.list_cases()[0].created_at.date().isoformat()
        header = f"【WorkRight 工作人员回复】关于你 {reported} 提交的报告（工伤和安全）："
        assert f"{header}\n我们已经收到，会联系劳动监察。" in bot.api.texts(CHAT)

        # The worker blocked the bot: the reply fails for good, moderators see why.
        bot.api.fail("sendMessage", code=403, description="Forbidden: bot was blocked by the user")
        service.reply(case_id, moderator, "还在吗？")
        bot.api.wait_for(lambda: outbox(app) == [m.OUTBOX_SENT, m.OUTBOX_FAILED], 30,
                         "the blocked reply marked failed")
        assert "还在吗？" not in bot.api.texts(CHAT)


def outbox(app: App) -> list[str]:
    with app.services["sessions"]() as session:
        return list(session.execute(select(m.Outbox.status).order_by(m.Outbox.id)).scalars())


def test_mount_reads_the_environment(app):
    settings = app.settings
    settings.secrets = Secrets(telegram_bot_token=SecretStr(TOKEN),
                               telegram_webhook_url="https://bot.example.org/telegram/webhook")
    api = create_server(app, [mount])
    assert isinstance(api, FastAPI)
    assert any(getattr(r, "path", None) == WEBHOOK_PATH for r in api.routes)
    assert isinstance(api.state.telegram, TelegramChannel)
    assert api.state.telegram.config.webhook_secret == derive_secret(TOKEN)
    settings.secrets = Secrets(telegram_bot_token=SecretStr("not a token"))
    with pytest.raises(ConfigError):
        create_server(app, [mount])

