"""Telegram: the Assistant in the chat app workers already use (python-telegram-bot 22).

A thin adapter (DESIGN: channels know the Assistant, the Assistant knows no channel):

- an ``Update`` becomes a :class:`~bot.messages.Message` whose ``user`` is the native chat
  id (the Assistant turns it into a pseudonym) and whose ``message_id`` starts with the
  update id, so a redelivered update is answered once;
- each :class:`~bot.messages.Reply` becomes Telegram messages in **plain text** (no
  ``parse_mode``): nothing a worker, a card or a moderator writes can be misread as markup,
  so there is nothing to escape and no escaping to forget. Texts over 4,096 characters are
  split at paragraph boundaries, buttons become an inline keyboard whose ``callback_data`` is
  the button's value, and every button press is answered;
- **polling** when no webhook URL is configured; otherwise a **webhook** on the same ASGI
  server (``POST /telegram/webhook``) that checks Telegram's secret header, answers 200 at
  once and leaves the work to the application's update queue;
- one error boundary, and the outbox sender that delivers moderators' replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import secrets
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from telegram import BotCommand, CallbackQuery, LinkPreviewOptions, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.app import App
from bot.channels.telegram_config import TelegramConfig
from bot.channels.telegram_outbox import TelegramDelivery
from bot.channels.telegram_render import ButtonCodec, render
from bot.config import ConfigError
from bot.messages import Message
from grievance.outbox import OutboxSender
from knowledge_base.instruments import LANGUAGES

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
#: The menu of ``set_my_commands``; the Assistant itself understands each of them.
COMMANDS: tuple[str, ...] = (
    "start", "help", "language", "country", "report", "status", "delete", "human",
)
ALLOWED_UPDATES: list[str] = [Update.MESSAGE, Update.CALLBACK_QUERY]
_HANDLERS = frozenset({"on_message", "on_button", "on_group_command"})

_App = Application[Any, Any, Any, Any, Any, Any]


# -- updates -> messages ----------------------------------------------------------------------


def delivery_id(update: Update) -> str:
    """The Message's ``message_id``: the update id and Telegram's id of the message.

    The update id alone identifies a redelivery, but Telegram picks update ids at random
    after a quiet week, and a clash with a claim kept from months ago would silently drop
    a worker's message as a "duplicate"; the message id (a per-chat counter) prevents that.
    """
    message = update.effective_message
    return f"{update.update_id}:{message.message_id if message else 0}"


def incoming(update: Update, text: str) -> Message | None:
    """The Message for an update from a private chat; None for groups and channels."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return None
    return Message(channel=CHANNEL, user=str(chat.id), text=text, message_id=delivery_id(update))


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats are handled concurrently, those of one chat in order.

    A worker's state is loaded, changed and saved per message, so two messages of the same
    worker must not overlap; workers must not wait for one another either.

    Args:
        max_concurrent_updates: updates in progress at once.
        on_processed: called with each update once it is done (for measurements).
    """

    def __init__(
        self, max_concurrent_updates: int, on_processed: Callable[[object], None] | None = None
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        self._on_processed = on_processed

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await ``coroutine`` once no earlier update of the same chat is in progress."""
        chat = update.effective_chat if isinstance(update, Update) else None
        try:
            if chat is None:
                await coroutine
                return
            lock = self._locks.setdefault(chat.id, asyncio.Lock())
            self._users[chat.id] += 1
            try:
                async with lock:
                    await coroutine
            finally:
                self._users[chat.id] -= 1
                if not self._users[chat.id]:
                    del self._users[chat.id]
                    del self._locks[chat.id]
        finally:
            if self._on_processed is not None:
                self._on_processed(update)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _handler_name(error: BaseException | None) -> str:
    """The handler callback an exception went through (from its traceback)."""
    tb = error.__traceback__ if error is not None else None
    for frame, _ in traceback.walk_tb(tb):
        if frame.f_code.co_name in _HANDLERS:
            return frame.f_code.co_name
    return "unknown"


# -- the channel ------------------------------------------------------------------------------


class TelegramChannel:
    """The Telegram adapter: a PTB Application around the Assistant.

    Usage example::

        channel = TelegramChannel(app, TelegramConfig.from_settings(app.settings))
        channel.mount(api)        # webhook route (webhook mode) and start/stop hooks

    Args:
        app: the built application (Assistant, catalogue, vault, database sessions).
        config: token, API server and mode.
        request: the HTTP client PTB uses (tests pass an offline one); default httpx.
        max_concurrent_updates: updates handled at once (one at a time per chat).
        rate_limit: use PTB's AIORateLimiter (Telegram's flood limits; waits on RetryAfter).
        rate_limit_retries: how often a request is retried after RetryAfter before the
            error reaches the caller (the outbox then schedules its own retry).
        poll_timeout: seconds of each long poll (polling mode).
        outbox_interval: seconds between two passes of the outbox sender.
        deliver_timeout: the longest one outbox delivery may take.
        max_queue: webhook updates waiting at most; beyond it Telegram is asked to retry.
        on_processed: called with each update once handled (measurements and tests).
    """

    def __init__(
        self,
        app: App,
        config: TelegramConfig,
        *,
        request: BaseRequest | None = None,
        max_concurrent_updates: int = 32,
        rate_limit: bool = True,
        rate_limit_retries: int = 2,
        poll_timeout: float = 10.0,
        outbox_interval: float = 5.0,
        deliver_timeout: float = 120.0,
        max_queue: int = 1000,
        on_processed: Callable[[object], None] | None = None,
    ) -> None:
        if outbox_interval <= 0 or deliver_timeout <= 0 or poll_timeout < 0:
            raise ValueError("outbox_interval and deliver_timeout must be > 0, poll_timeout >= 0")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.app = app
        self.config = config
        self.buttons = ButtonCodec()
        self._poll_timeout = poll_timeout
        self._outbox_interval = outbox_interval
        self._max_queue = max_queue
        self._retry_task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._outbox_stop = asyncio.Event()
        # The token is in every Bot API URL httpx logs at INFO; at DEBUG, PTB logs its URLs
        # (with the token), every call's parameters and whole updates (the worker's text).
        logging.getLogger("httpx").setLevel(logging.WARNING)
        ptb_log = logging.getLogger("telegram")
        if ptb_log.getEffectiveLevel() < logging.INFO:
            ptb_log.setLevel(logging.INFO)

        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            Application.builder().token(config.token).job_queue(None)
        )
        urls = config.base_urls()
        if urls is not None:
            builder = builder.base_url(urls[0]).base_file_url(urls[1])
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        if config.webhook:
            builder = builder.updater(None)
        if rate_limit:
            builder = builder.rate_limiter(AIORateLimiter(max_retries=rate_limit_retries))
        self.application: _App = (
            builder.defaults(Defaults(link_preview_options=LinkPreviewOptions(is_disabled=True)))
            .concurrent_updates(PerChatUpdateProcessor(max_concurrent_updates, on_processed))
            .build()
        )
        private = filters.ChatType.PRIVATE
        self.application.add_handler(
            MessageHandler(private & filters.UpdateType.MESSAGE, self.on_message)
        )
        self.application.add_handler(CallbackQueryHandler(self.on_button))
        self.application.add_handler(
            MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, self.on_group_command)
        )
        self.application.add_error_handler(self.on_error)
        self.delivery = TelegramDelivery(self.application.bot, deliver_timeout)

    # -- conversation ---------------------------------------------------------------------

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A worker's message: its text (or a photo's caption; anything else is empty)."""
        del context
        message = update.message
        if message is not None:
            await self._converse(update, message.text or message.caption or "")

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: answered at once, then handled as a message of its value."""
        del context
        query = update.callback_query
        if query is None:
            return
        await self._acknowledge(query, update.update_id)
        value = self.buttons.decode(query.data or "")
        if value is None:
            await self._notice(update, "telegram_button_expired")
            return
        await self._converse(update, value)

    async def on_group_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command in a group: point the worker to a private chat, answer nothing there."""
        del context
        await self._notice(update, "telegram_private_only")

    async def _converse(self, update: Update, text: str) -> None:
        message = incoming(update, text)
        if message is None:
            return
        # The Assistant is synchronous and CPU-bound: keep it off the event loop.
        replies = await asyncio.to_thread(self.app.assistant.handle, message)
        chat_id = int(message.user)
        for reply in replies:
            for chunk, markup in render(reply, self.buttons):
                await self.application.bot.send_message(chat_id, chunk, reply_markup=markup)
        logger.info(
            "telegram update=%d user=%s replies=%d",
            update.update_id, self.app.vault.pseudonym(CHANNEL, message.user), len(replies),
        )

    async def _acknowledge(self, query: CallbackQuery, update_id: int) -> None:
        try:
            await query.answer()
        except BadRequest:
            # A press answered too late ("query is too old") is still handled.
            logger.info("telegram update=%d: button press could not be answered", update_id)

    def _hint_language(self, update: Update) -> str:
        """The worker's app language, when it is one the assistant speaks."""
        user = update.effective_user
        code = (user.language_code or "").split("-")[0].lower() if user else ""
        return code if code in LANGUAGES else self.app.settings.assistant.default_language

    async def _notice(self, update: Update, key: str) -> None:
        chat = update.effective_chat
        if chat is not None:
            text = self.app.catalogue.text(key, self._hint_language(update))
            await self.application.bot.send_message(chat.id, text)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one error boundary: log update id and handler, tell the worker what to do.

        Never logs the update, the text or the chat: only the update id, the handler, the
        exception's type and the stack (code locations, no values).
        """
        error = context.error
        name = type(error).__name__
        if not isinstance(update, Update):
            # Polling hiccups and the like: no worker is waiting for an answer.
            logger.warning("telegram: %s outside an update", name)
            return
        stack = "".join(traceback.format_tb(error.__traceback__ if error else None))
        logger.error(
            "telegram update=%d failed in %s: %s\n%s",
            update.update_id, _handler_name(error), name, stack.rstrip(),
        )
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            return
        try:
            await self._notice(update, "telegram_error")
        except Exception as exc:  # noqa: BLE001 - the boundary itself must not fail
            logger.warning(
                "telegram update=%d: the error notice failed too (%s)",
                update.update_id, type(exc).__name__,
            )

    # -- webhook ------------------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """``POST /telegram/webhook``: check the secret, queue the update, answer 200.

        403 for a wrong secret, 400 for a body that is not an update, 503 (Telegram retries
        later) while the bot is starting or stopping or the queue is full.
        """
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1")
        if not secrets.compare_digest(given, self.config.webhook_secret.encode()):
            return JSONResponse({"error": "forbidden"}, status_code=403)
        if not self.application.running or self.application.update_queue.qsize() >= self._max_queue:
            return JSONResponse({"error": "not ready, retry later"}, status_code=503)
        try:
            update = Update.de_json(await request.json(), self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            update = None
        if update is None or not isinstance(update.update_id, int):
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # -- lifecycle ------------------------------------------------------------------------

    def mount(self, api: FastAPI) -> None:
        """Add the webhook route (webhook mode) and the start/stop hooks to ``api``."""
        if self.config.webhook:
            api.add_api_route(WEBHOOK_PATH, self.webhook, methods=["POST"],
                              include_in_schema=False)
            path = urlsplit(self.config.webhook_url or "").path
            if path != WEBHOOK_PATH:
                logger.info("telegram webhook URL path is %s; this server serves %s "
                            "(fine behind a proxy that rewrites it)", path, WEBHOOK_PATH)
        api.state.on_startup.append(self.start)
        api.state.on_shutdown.append(self.stop)
        api.state.telegram = self

    async def start(self) -> None:
        """Connect to Telegram, register the commands, start polling or the webhook.

        When Telegram cannot be reached, the server starts anyway and connecting is retried
        in the background (the web chat keeps working).

        Raises:
            ConfigError: Telegram rejected the token or the webhook URL.
        """
        try:
            await self._bring_up()
        except (InvalidToken, BadRequest) as exc:
            raise _config_error(exc) from None  # PTB puts the token in InvalidToken's text
        except NetworkError as exc:
            logger.warning("telegram: Bot API unreachable (%s), retrying in the background",
                           type(exc).__name__)
            self._retry_task = asyncio.create_task(self._bring_up_later())
        self.delivery.bind(asyncio.get_running_loop())
        self._outbox_stop.clear()
        self._outbox_task = asyncio.create_task(
            self.make_sender().run_forever(self._outbox_stop, self._outbox_interval)
        )
        self._outbox_task.add_done_callback(_report_crash)

    async def _bring_up(self) -> None:
        application = self.application
        await application.initialize()
        await self._register_commands()
        if not application.running:
            await application.start()
        if self.config.webhook:
            await application.bot.set_webhook(
                self.config.webhook_url or "", secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            logger.info("telegram: webhook mode on %s", WEBHOOK_PATH)
        elif application.updater is not None and not application.updater.running:
            await application.updater.start_polling(
                timeout=dtm.timedelta(seconds=self._poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=_polling_error,
            )
            logger.info("telegram: polling mode")

    async def _bring_up_later(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._bring_up()
            except (InvalidToken, BadRequest) as exc:
                logger.error("telegram: %s", _config_error(exc))
                return
            except NetworkError as exc:
                delay = min(delay * 2, 60.0)
                logger.warning("telegram: still unreachable (%s)", type(exc).__name__)
            else:
                return

    async def _register_commands(self) -> None:
        catalogue = self.app.catalogue
        default = self.app.settings.assistant.default_language
        for lang in (None, *LANGUAGES):
            commands = [
                BotCommand(name, catalogue.text(f"telegram_cmd_{name}", lang or default))
                for name in COMMANDS
            ]
            await self.application.bot.set_my_commands(commands, language_code=lang)

    async def stop(self) -> None:
        """Stop the outbox sender and PTB; updates already queued are handled first."""
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        if self._outbox_task is not None:
            self._outbox_stop.set()
            await asyncio.wait({self._outbox_task})
        self.delivery.bind(None)
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    # -- outbox -------------------------------------------------------------------------

    def make_sender(self, **options: Any) -> OutboxSender:
        """The outbox sender of this channel (``options`` go to :class:`OutboxSender`)."""
        sessions = self.app.services["sessions"]
        return OutboxSender(sessions, self.app.vault, CHANNEL, self.delivery.deliver, **options)


def _config_error(exc: InvalidToken | BadRequest) -> ConfigError:
    if isinstance(exc, InvalidToken):
        return ConfigError("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather")
    return ConfigError(f"Telegram refused the set-up ({exc.message}): check TELEGRAM_WEBHOOK_URL")


def _polling_error(error: Exception) -> None:
    logger.warning("telegram: polling failed (%s), retrying", type(error).__name__)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("telegram outbox sender stopped: %s", type(task.exception()).__name__)


def mount(api: FastAPI, app: App) -> None:
    """The server mount (see :func:`bot.run.channel_mounts`): Telegram from the environment.

    Raises:
        ConfigError: the token or the webhook secret is malformed.
    """
    TelegramChannel(app, TelegramConfig.from_settings(app.settings)).mount(api)
