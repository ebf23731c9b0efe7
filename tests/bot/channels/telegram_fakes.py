"""Test helpers for the Telegram channel: a fake Bot API of our own (served over real HTTP on
loopback, or in-process as a PTB request class), an offline request class, builders of the
updates Telegram sends (the JSON shapes recorded from the Bot API documentation), a stub
Assistant, and a worker who chats and waits for the bot's answers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram.request import BaseRequest, RequestData

from bot.channels.telegram_config import TelegramConfig
from bot.config import Settings
from bot.i18n import Catalogue
from bot.messages import Button, Message, Reply
from grievance.crypto import Vault
from tests.grievance.support import TEST_KEY

TOKEN = "7357000001:AAF4k3-T0k3n_for_the_workright_tests"
SECRET = "w3bh00k-s3cret_for-tests"
CHAT = 5550001
BOT_ID = 7357000001
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "WorkRight",
            "username": "workright_test_bot", "can_join_groups": False,
            "can_read_all_group_messages": False, "supports_inline_queries": False}
#: Parameters the Bot API reads as strings (PTB sends every other value JSON-encoded).
_STRING_FIELDS = frozenset({"text", "url", "secret_token", "callback_query_id", "language_code",
                            "caption", "description", "short_description", "name", "ip_address"})


@dataclass
class Call:
    """One Bot API call the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)
    ok: bool = True


class FakeBotApi:
    """The Telegram Bot API in memory: what the bot called, what it sent, and the updates
    waiting for ``getUpdates``. Thread-safe: the server thread and the test both use it."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self._cond = threading.Condition()
        self.calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._redeliver: list[dict[str, Any]] = []
        self._update_id = 483_021_000
        self._message_ids: dict[int, int] = {}
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self._faults: dict[str, list[dict[str, Any]]] = {}

    # -- what Telegram sends ----------------------------------------------------------------
    def _next_ids(self, chat_id: int) -> tuple[int, int]:
        with self._cond:
            self._update_id += 1
            self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
            return self._update_id, self._message_ids[chat_id]

    @staticmethod
    def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
        if chat_type == "private":
            return {"id": chat_id, "first_name": "Worker", "type": "private"}
        return {"id": chat_id, "title": "Line 3", "type": chat_type}

    @staticmethod
    def _user(user_id: int, language_code: str | None) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": False, "first_name": "Worker"}
        if language_code:
            user["language_code"] = language_code
        return user

    def text_update(self, chat_id: int, text: str, *, language_code: str | None = "zh-hans",
                    chat_type: str = "private", user_id: int | None = None) -> dict[str, Any]:
        """A ``message`` update as Telegram sends it."""
        update_id, message_id = self._next_ids(chat_id)
        message = {"message_id": message_id, "from": self._user(user_id or chat_id, language_code),
                   "chat": self._chat(chat_id, chat_type), "date": int(time.time()), "text": text}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
        return {"update_id": update_id, "message": message}

    def button_update(self, chat_id: int, data: str, *, message_id: int | None = None,
                      language_code: str | None = "zh-hans") -> dict[str, Any]:
        """A ``callback_query`` update: the worker pressed a button under a bot message."""
        update_id, _ = self._next_ids(chat_id)
        pressed_on = message_id or self._message_ids.get(chat_id, 1)
        message = {"message_id": pressed_on, "from": BOT_USER, "date": int(time.time()),
                   "chat": self._chat(chat_id, "private"), "text": "…"}
        query = {"id": f"{update_id}77", "from": self._user(chat_id, language_code),
                 "message": message, "chat_instance": "-5012345678901234567", "data": data}
        return {"update_id": update_id, "callback_query": query}

    def push(self, *updates: dict[str, Any]) -> None:
        """Make updates available to ``getUpdates`` (polling mode)."""
        with self._cond:
            self._updates.extend(updates)
            self._cond.notify_all()

    def redeliver(self, update: dict[str, Any]) -> None:
        """Hand an update out again although it was confirmed (as after a lost ack)."""
        with self._cond:
            self._redeliver.append(update)

    def fail(self, method: str, *, code: int, description: str,
             retry_after: int | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail as Telegram does."""
        error: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            error["parameters"] = {"retry_after": retry_after}
        with self._cond:
            self._faults.setdefault(method, []).extend([error] * times)

    # -- what the bot did ---------------------------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The messages delivered (``sendMessage`` parameters), oldest first."""
        with self._cond:
            return [c.params for c in self.calls if c.method == "sendMessage" and c.ok
                    and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        """The texts the bot sent to a chat."""
        return [p["text"] for p in self.sent(chat_id)]

    def count(self, method: str) -> int:
        """How many times the bot called ``method``."""
        with self._cond:
            return sum(1 for c in self.calls if c.method == method)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0,
                 what: str = "the bot") -> None:
        """Wait until ``condition()`` holds (re-checked whenever the bot calls the API)."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            with self._cond:
                self._cond.wait(min(left, 0.05))

    def wait_sent(self, chat_id: int, n: int, timeout: float = 60.0) -> list[str]:
        """Wait until the bot has sent ``n`` messages in all to ``chat_id``; their texts."""
        self.wait_for(lambda: len(self.sent(chat_id)) >= n, timeout,
                      f"{n} messages to chat {chat_id}")
        return self.texts(chat_id)

    # -- the API ------------------------------------------------------------------------
    def pending(self, offset: int) -> list[dict[str, Any]]:
        """Updates for ``getUpdates``; ``offset`` confirms (forgets) the earlier ones."""
        with self._cond:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            again, self._redeliver = self._redeliver, []
            return again + list(self._updates)

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: ``(HTTP status, JSON body)``."""
        with self._cond:
            faults = self._faults.get(method)
            error = faults.pop(0) if faults else None
            self.calls.append(Call(method, params, ok=error is None))
            self._cond.notify_all()
        if error is not None:
            return int(error["error_code"]), error
        result = self._result(method, params)
        if result is None:
            return 404, {"ok": False, "error_code": 404,
                         "description": "Not Found: method not found"}
        return 200, {"ok": True, "result": result}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            _, message_id = self._next_ids(chat_id)
            message = {"message_id": message_id, "from": BOT_USER, "date": int(time.time()),
                       "chat": self._chat(chat_id, "private"), "text": params["text"]}
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getUpdates":
            return self.pending(int(params.get("offset", 0)))
        if method == "setWebhook":
            with self._cond:
                self.webhook = dict(params)
            return True
        if method == "deleteWebhook":
            with self._cond:
                self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": 0}
        if method == "setMyCommands":
            with self._cond:
                self.commands[params.get("language_code", "")] = list(params["commands"])
            return True
        if method == "getMyCommands":
            return self.commands.get(params.get("language_code", ""), [])
        if method in ("answerCallbackQuery", "close", "logOut", "deleteMyCommands"):
            return True
        return None


def decode_params(raw: dict[str, str]) -> dict[str, Any]:
    """Form fields as PTB sends them: strings as they are, everything else JSON."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _STRING_FIELDS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def create_fake_server(api: FakeBotApi) -> Starlette:
    """The fake as an ASGI app: ``/bot<token>/<method>``, with long polling."""

    async def endpoint(request: Request) -> JSONResponse:
        if request.path_params["token"] != api.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                status_code=401)
        method = request.path_params["method"]
        if request.headers.get("content-type", "").startswith("application/json"):
            params = await request.json()
        else:
            form = await request.form()
            params = decode_params({k: str(v) for k, v in form.items()})
        params.update(decode_params(dict(request.query_params)))
        if method == "getUpdates":
            deadline = time.monotonic() + float(params.get("timeout", 0))
            while not api.pending(int(params.get("offset", 0))) and time.monotonic() < deadline:
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.01)
        status, body = api.call(method, params)
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/bot{token}/{method}", endpoint, methods=["GET", "POST"])])


class _SocketlessRequest(BaseRequest):
    """A PTB request class with nothing to open or close; subclasses answer ``_answer``."""

    timeout = 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float:
        return self.timeout

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None,
                         connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        return self._answer(url, request_data)

    def _answer(self, url: str, request_data: RequestData | None) -> tuple[int, bytes]:
        raise NotImplementedError


class FakeBotApiRequest(_SocketlessRequest):
    """A PTB request class that answers from a :class:`FakeBotApi` in-process (no socket)."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    def _answer(self, url: str, request_data: RequestData | None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if f"/bot{self.api.token}/" not in url:
            return 401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'
        params = dict(request_data.parameters) if request_data else {}
        status, body = self.api.call(name, params)
        return status, json.dumps(body).encode()


class OfflineRequest(_SocketlessRequest):
    """A PTB request class that fails the test on any use of the network."""

    timeout = 1.0

    def _answer(self, url: str, request_data: RequestData | None) -> tuple[int, bytes]:
        pytest.fail("OfflineRequest: this test must not use the network")


# -- the other side: a stub Assistant, and a worker waiting for answers ------------------------


class StubAssistant:
    """Records messages; answers with ``replies`` or raises ``error``."""

    def __init__(self, replies: list[Reply] | None = None,
                 error: Exception | None = None) -> None:
        self.messages: list[Message] = []
        self.replies = replies if replies is not None else [
            Reply("答案", buttons=(Button("举报问题", "/report"),))]
        self.error = error

    def handle(self, message: Message) -> list[Reply]:
        self.messages.append(message)
        if self.error is not None:
            raise self.error
        return list(self.replies)


def stub_app(assistant: StubAssistant, sessions: Any = None) -> Any:
    """What the channel uses of an App, around a stub Assistant."""
    return SimpleNamespace(assistant=assistant, catalogue=Catalogue.load(), vault=Vault(TEST_KEY),
                           settings=Settings(), services={"sessions": sessions})


def webhook_config(api_base: str | None = None) -> TelegramConfig:
    """Webhook mode (no Updater: nothing polls); Telegram would post to this URL."""
    return TelegramConfig(token=TOKEN, api_base=api_base, webhook_secret=SECRET,
                          webhook_url="https://bot.example.org/telegram/webhook")


class ProcessedUpdates:
    """The channel's ``on_processed`` hook: which updates are done, and when."""

    def __init__(self) -> None:
        self.done: dict[int, float] = {}
        self._cond = threading.Condition()

    def __call__(self, update: object) -> None:
        with self._cond:
            self.done[getattr(update, "update_id", -1)] = time.perf_counter()
            self._cond.notify_all()

    def wait(self, update_id: int, timeout: float = 120.0) -> float:
        """Wait until the update is handled; when that was (``time.perf_counter``)."""
        with self._cond:
            if not self._cond.wait_for(lambda: update_id in self.done, timeout):
                raise AssertionError(f"update {update_id} not handled within {timeout} s")
            return self.done[update_id]


class Worker:
    """One worker chatting with the bot: sends updates as Telegram would, reads the answers.

    Args:
        api: the fake Bot API (builds the updates, records the answers).
        deliver: hands an update to the bot (``api.push`` when polling, a webhook POST).
        processed: the channel's ``on_processed`` hook.
        chat_id: the worker's chat.
    """

    def __init__(self, api: FakeBotApi, deliver: Callable[[dict[str, Any]], None],
                 processed: ProcessedUpdates, chat_id: int = CHAT) -> None:
        self.api, self.deliver, self.processed, self.chat_id = api, deliver, processed, chat_id

    def send(self, update: dict[str, Any]) -> list[str]:
        """Deliver an update, wait until it is handled; the texts the bot sent for it."""
        before = len(self.api.sent(self.chat_id))
        self.deliver(update)
        self.processed.wait(update["update_id"])
        return self.api.texts(self.chat_id)[before:]

    def say(self, text: str) -> list[str]:
        """Write a message."""
        return self.send(self.api.text_update(self.chat_id, text))

    def buttons(self) -> list[str]:
        """The callback data of the latest keyboard the bot sent."""
        keyboards = [s["reply_markup"] for s in self.api.sent(self.chat_id)
                     if "reply_markup" in s]
        return [b["callback_data"] for row in keyboards[-1]["inline_keyboard"] for b in row]

    def press(self, value: str) -> list[str]:
        """Press the button with this value on the latest keyboard."""
        assert value in self.buttons(), f"{value!r} not among the buttons {self.buttons()}"
        return self.send(self.api.button_update(self.chat_id, value))
