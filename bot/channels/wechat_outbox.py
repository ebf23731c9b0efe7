"""Moderators' replies to WeChat workers: the outbox sender's ``deliver`` for this channel.

WeChat lets an account message a worker through the customer-service API only within
48 hours of the worker's last message (error 45015 after that, 45047 when too many were
sent meanwhile). A reply that meets a closed window is failed *permanently* for the
:class:`~grievance.outbox.OutboxSender`, which marks the row ``failed`` and records a
``delivery_failed`` case event for moderators; its text and address stay in the row with
``last_error = "outside_window"``, and the next message from that worker puts it back in
the queue (:func:`requeue_waiting`), to be sent within seconds while the window is open.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.wechat_api import (
    OutsideReplyWindow,
    RecipientUnavailable,
    WeChatApi,
    WeChatApiError,
    WeChatUnavailable,
)
from bot.channels.wechat_channel import CHANNEL, WeChatChannel
from bot.channels.wechat_config import WeChatHost
from bot.channels.wechat_render import pack
from grievance import models as m
from grievance.db import utcnow
from grievance.errors import StorageUnavailable
from grievance.outbox import DeliveryError, OutboxSender

logger = logging.getLogger(__name__)

#: The ``last_error`` of a reply waiting for the worker to open the window again.
OUTSIDE_WINDOW = "outside_window"


class WeChatDelivery:
    """The synchronous ``deliver(chat_id, text)`` of the outbox sender, for WeChat.

    The sender calls it from a worker thread; it runs the send on the server's event loop
    (where the API client and its token lock live) and waits for the result.

    Usage example::

        delivery = WeChatDelivery(api, max_bytes=2000)
        delivery.bind(asyncio.get_running_loop())          # at start-up
        sender = OutboxSender(sessions, vault, "wechat", deliver=delivery.deliver)

    Args:
        api: the customer-service API client.
        max_bytes: the byte limit of one message (longer replies are split).
        timeout: seconds to wait for all parts of one reply.
    """

    def __init__(self, api: WeChatApi, max_bytes: int = 2000, timeout: float = 30.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._api = api
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Use ``loop`` (the server's) for the API calls."""
        self._loop = loop

    async def _send_all(self, openid: str, texts: list[str]) -> None:
        for text in texts:
            await self._api.send_text(openid, text)

    def deliver(self, chat_id: str, text: str) -> None:
        """Send a moderator's reply to the worker with OpenID ``chat_id``.

        Raises:
            DeliveryError: ``outside_window`` (permanent: waits for the worker), an
                unreachable worker (permanent), or a transient fault (retried).
        """
        if self._loop is None or self._loop.is_closed():
            raise DeliveryError("wechat channel not started")
        texts = pack([text], self._max_bytes)
        future = asyncio.run_coroutine_threadsafe(self._send_all(chat_id, texts), self._loop)
        try:
            future.result(timeout=self._timeout)
        except OutsideReplyWindow as exc:
            raise DeliveryError(OUTSIDE_WINDOW, permanent=True) from exc
        except RecipientUnavailable as exc:
            raise DeliveryError(f"wechat {exc.errcode}", permanent=True) from exc
        except WeChatApiError as exc:
            raise DeliveryError(f"wechat {exc.errcode}") from exc
        except WeChatUnavailable as exc:
            raise DeliveryError("wechat unavailable") from exc
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise DeliveryError("timeout") from exc


def requeue_waiting(
    session_factory: sessionmaker[Session],
    worker_ref: str,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Put the replies that met a closed window back in the queue, due now.

    Called when the worker writes again (which reopens the 48-hour window).

    Returns:
        How many replies were requeued.

    Raises:
        StorageUnavailable: the database is unavailable.
    """
    try:
        with session_factory.begin() as session:
            result = session.execute(
                update(m.Outbox)
                .where(
                    m.Outbox.channel == CHANNEL,
                    m.Outbox.worker_ref == worker_ref,
                    m.Outbox.status == m.OUTBOX_FAILED,
                    m.Outbox.last_error == OUTSIDE_WINDOW,
                    m.Outbox.text_enc.is_not(None),
                )
                .values(status=m.OUTBOX_PENDING, next_attempt_at=clock(), attempts=0)
                .execution_options(synchronize_session=False)
            )
            count = int(getattr(result, "rowcount", 0) or 0)
    except (OperationalError, InterfaceError) as exc:
        raise StorageUnavailable("cannot requeue waiting replies") from exc
    if count:
        logger.info("wechat: %d waiting repl(ies) requeued user=%s", count, worker_ref)
    return count


def attach_outbox(
    api: FastAPI, app: WeChatHost, channel: WeChatChannel, interval: float = 5.0
) -> OutboxSender | None:
    """Run the WeChat outbox sender with the server, and requeue on each inbound message.

    Needs ``app.services["sessions"]`` and the customer-service API; without either,
    moderators' replies to WeChat workers stay queued (and this is logged).

    Returns:
        The sender, or None when it cannot run.
    """
    sessions = app.services.get("sessions")
    if sessions is None or channel.api is None:
        logger.warning(
            "wechat outbox sender off (%s): moderators' replies to WeChat workers stay queued",
            "no database sessions" if sessions is None else "no WECHAT_APP_SECRET",
        )
        return None
    delivery = WeChatDelivery(channel.api, channel.config.max_text_bytes)
    sender = OutboxSender(sessions, app.vault, CHANNEL, deliver=delivery.deliver)
    channel.on_inbound = functools.partial(requeue_waiting, sessions)
    stop = asyncio.Event()
    running: list[asyncio.Task[None]] = []

    async def start() -> None:
        delivery.bind(asyncio.get_running_loop())
        running.append(asyncio.create_task(sender.run_forever(stop, interval)))

    async def finish() -> None:
        stop.set()
        if running:
            await asyncio.wait(running, timeout=interval + 30)

    api.state.on_startup.append(start)
    api.state.on_shutdown.append(finish)
    return sender
