"""Moderators' replies to Telegram workers: the outbox sender's ``deliver`` for this channel.

The :class:`~grievance.outbox.OutboxSender` calls ``deliver(chat_id, text)`` from a worker
thread; the send runs on the server's event loop, through the bot and its rate limiter
(PTB's ``AIORateLimiter`` keeps to Telegram's flood limits and waits out ``RetryAfter`` a
few times itself). What is still failing then becomes a :class:`DeliveryError`: with
``retry_after`` when Telegram asked us to wait (the sender waits at least that long),
``permanent`` when retrying cannot help (the worker blocked the bot, the chat is gone).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.channels.telegram_render import split_text
from grievance.outbox import DeliveryError


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked us to wait."""
    # The public ``retry_after`` warns until PTB 23 makes it a timedelta; PTB's own
    # AIORateLimiter reads the private value the same way.
    value = getattr(exc, "_retry_after", None)
    return float(value.total_seconds()) if value is not None else 1.0


class TelegramDelivery:
    """The synchronous ``deliver(chat_id, text)`` of the outbox sender, for Telegram.

    Usage example::

        delivery = TelegramDelivery(application.bot)
        delivery.bind(asyncio.get_running_loop())          # once the bot is running
        sender = OutboxSender(sessions, vault, "telegram", deliver=delivery.deliver)

    Args:
        bot: the application's bot (with its rate limiter).
        timeout: seconds to wait for all parts of one reply.
    """

    def __init__(self, bot: Bot, timeout: float = 120.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._bot = bot
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Send on ``loop`` (the server's); None while the bot is not running."""
        self._loop = loop

    def deliver(self, chat_id: str, text: str) -> None:
        """Send a moderator's reply to the worker's chat, split like any reply.

        Raises:
            DeliveryError: see the module docstring; the reason never holds the chat id.
            RuntimeError: when called on the event loop itself (it would block it).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            raise DeliveryError("telegram not running")
        try:
            running: Any = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("deliver() blocks: call it from a worker thread")
        future = asyncio.run_coroutine_threadsafe(self._send(chat_id, text), loop)
        try:
            future.result(timeout=self._timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeliveryError("timeout") from None

    async def _send(self, chat_id: str, text: str) -> None:
        chunks = split_text(text)
        if not chunks or not chat_id.lstrip("-").isdigit():
            raise DeliveryError("empty text or malformed chat id", permanent=True)
        try:
            for chunk in chunks:
                await self._bot.send_message(int(chat_id), chunk)
        except RetryAfter as exc:
            raise DeliveryError("rate limited", retry_after=retry_seconds(exc)) from exc
        except Forbidden as exc:
            raise DeliveryError("blocked by the worker", permanent=True) from exc
        except BadRequest as exc:
            raise DeliveryError("rejected by telegram", permanent=True) from exc
        except NetworkError as exc:
            raise DeliveryError(f"network: {type(exc).__name__}") from exc
        except InvalidToken as exc:
            raise DeliveryError("token rejected") from exc
