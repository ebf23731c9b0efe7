"""The WeChat webhook logic: check, decrypt, parse, answer within the budget, or later.

:class:`WeChatChannel` is independent of the web framework; :mod:`bot.channels.wechat`
puts it on the server. A message is answered once however often WeChat retries it: the
retries join the first delivery's answer (:class:`_Exchange`), and the Assistant itself
de-duplicates by ``message_id`` across restarts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from bot.channels.wechat_api import WeChatApi, WeChatError
from bot.channels.wechat_config import WeChatConfig, WeChatHost
from bot.channels.wechat_crypto import (
    MessageCrypto,
    SignatureError,
    WeChatCryptoError,
    check_signature,
)
from bot.channels.wechat_render import ChoiceMemory, Rendered, ReplyRenderer
from bot.channels.wechat_xml import Inbound, XmlError, encrypted_reply_xml, parse_xml
from bot.channels.wechat_xml import text_reply_xml as _text_xml
from bot.messages import Message, Reply
from grievance.errors import StorageUnavailable

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
_MAX_PARAM = 256


class Refused(Exception):
    """A request refused before anything is stored: answered with ``status`` and no body."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class _Exchange:
    """One inbound message being answered, shared by WeChat's retries of it."""

    task: asyncio.Task[tuple[list[Reply], str]]
    created: float
    mode: str = "pending"  # "pending" → "passive" (replied in the response) or "async"
    rendered: Rendered | None = None
    passive: str | None = None
    rest: tuple[str, ...] = field(default_factory=tuple)
    rest_sent: bool = False


Job = Callable[[], tuple[list[Reply], str]]
SUCCESS = "success"


@dataclass(frozen=True, slots=True)
class PostAnswer:
    """The response to one POST: its body, and what to send after it (if anything)."""

    body: str
    xml: bool = False
    after: Callable[[], Awaitable[object]] | None = None


class WeChatChannel:
    """Verifies, parses and answers WeChat webhook requests.

    Usage example::

        channel = WeChatChannel(WeChatConfig.from_settings(settings), host, api=api)
        body = await channel.handle_post(dict(request.query_params), raw_body)

    Args:
        config: token, keys, budget and limits.
        host: the application (assistant, catalogue, vault, store, settings).
        api: the customer-service API client; None when no app secret is configured
            (then slow answers cannot be delivered and the worker is asked to resend).
        on_inbound: called (in a worker thread) with the pseudonym of every worker who
            writes, e.g. to requeue moderator replies that waited for the 48-hour window.
        wall_clock: Unix seconds, for the timestamp check.
    """

    def __init__(
        self,
        config: WeChatConfig,
        host: WeChatHost,
        *,
        api: WeChatApi | None = None,
        on_inbound: Callable[[str], object] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.host = host
        self.api = api
        self.on_inbound = on_inbound
        self._wall = wall_clock
        self._crypto = (
            MessageCrypto(config.token, config.encoding_aes_key, config.app_id or "")
            if config.encoding_aes_key else None
        )
        self.renderer = ReplyRenderer(host.catalogue, config.max_text_bytes)
        self.choices = ChoiceMemory(ttl=config.choice_ttl)
        self._exchanges: OrderedDict[str, _Exchange] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._default_lang = host.settings.assistant.default_language

    # -- request checks -------------------------------------------------------------------
    def _check_signature(self, params: dict[str, str]) -> None:
        timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
        signature = params.get("signature", "")
        if not (timestamp.isascii() and timestamp.isdigit() and nonce and signature):
            raise Refused(403, "missing signature, timestamp or nonce")
        if any(len(v) > _MAX_PARAM for v in params.values()):
            raise Refused(400, "query parameter too long")
        if not check_signature(self.config.token, signature, timestamp, nonce):
            raise Refused(403, "bad signature")
        skew = self.config.max_clock_skew
        if skew is not None and abs(self._wall() - int(timestamp)) > skew:
            raise Refused(403, "stale timestamp")

    def verify_url(self, params: dict[str, str]) -> str:
        """The ``echostr`` to answer WeChat's server-URL check with.

        Raises:
            Refused: a bad signature or a missing ``echostr``.
        """
        self._check_signature(params)
        echostr = params.get("echostr", "")
        if not echostr:
            raise Refused(400, "missing echostr")
        return echostr

    def _open(self, params: dict[str, str], body: bytes) -> Inbound:
        """Check the signatures and decrypt: the message, or :class:`Refused`."""
        self._check_signature(params)
        try:
            envelope = parse_xml(body, self.config.max_body_bytes)
        except XmlError as exc:
            raise Refused(400, str(exc)) from exc
        if params.get("encrypt_type", "raw").lower() != "aes":
            if self._crypto is not None:
                # The plain signature does not cover the body: with a key set, only
                # encrypted messages are accepted (switch the account to safe mode).
                raise Refused(400, "plaintext message while WECHAT_ENCODING_AES_KEY is set")
            return envelope
        if self._crypto is None:
            raise Refused(400, "encrypted message but WECHAT_ENCODING_AES_KEY is not set")
        if not envelope.encrypted:
            raise Refused(400, "encrypt_type=aes without an Encrypt element")
        try:
            self._crypto.verify(
                params.get("msg_signature", ""), params["timestamp"], params["nonce"],
                envelope.encrypted,
            )
            inner = self._crypto.decrypt(envelope.encrypted)
            return parse_xml(inner, self.config.max_body_bytes)
        except SignatureError as exc:
            raise Refused(403, str(exc)) from exc
        except WeChatCryptoError as exc:
            raise Refused(400, str(exc)) from exc
        except XmlError as exc:
            raise Refused(400, f"decrypted {exc}") from exc

    # -- answering --------------------------------------------------------------------------
    async def handle_post(self, params: dict[str, str], body: bytes) -> PostAnswer:
        """Answer one POST.

        Returns:
            The response body (passive reply XML or ``success``) and, when the answer did
            not fit in one passive reply, a coroutine function sending the rest through
            the customer-service API (run it after the response is out, to keep order).

        Raises:
            Refused: nothing was stored; answer with ``Refused.status``.
        """
        deadline = asyncio.get_running_loop().time() + self.config.reply_budget
        inbound = self._open(params, body)
        if not inbound.from_user:
            raise Refused(400, "message without FromUserName")
        user_ref = self.host.vault.pseudonym(CHANNEL, inbound.from_user)
        key = _dedupe_key(inbound, user_ref)
        exchange = self._exchanges.get(key)
        if exchange is not None:
            logger.info("wechat retry of a message being answered user=%s", user_ref)
        else:
            job = self._job(inbound, user_ref, key)
            if job is None:
                logger.info("wechat %s/%s user=%s: no answer needed",
                            inbound.msg_type, inbound.event.lower(), user_ref)
                return PostAnswer(SUCCESS)
            self._prune()
            task = asyncio.create_task(run_in_threadpool(job))
            exchange = self._exchanges[key] = _Exchange(task=task, created=time.monotonic())
        passive = await self._passive(exchange, inbound, user_ref, deadline)
        if passive is None:
            return PostAnswer(SUCCESS)
        after = None
        if exchange.rest and not exchange.rest_sent:
            exchange.rest_sent = True
            after = functools.partial(self.send, inbound.from_user, user_ref, exchange.rest)
        return PostAnswer(self._reply_xml(inbound, passive, params), xml=True, after=after)

    def _job(self, inbound: Inbound, user_ref: str, key: str) -> Job | None:
        """What to do for this message; None when WeChat needs no reply."""
        kind = inbound.msg_type.lower()
        if kind == "event":
            event = inbound.event.lower()
            if event == "subscribe":
                # The Assistant's /start: welcome, privacy statement, language menu.
                return self._assistant_job(inbound, user_ref, "/start", key)
            if event == "click" and inbound.event_key:
                # Menu keys are commands or button values ("/report", "lang:zh").
                return self._assistant_job(inbound, user_ref, inbound.event_key, key)
            return None  # unsubscribe, VIEW, LOCATION, template results ...
        if kind == "text":
            text = self.choices.resolve(user_ref, inbound.content) or inbound.content
            return self._assistant_job(inbound, user_ref, text, key)
        if kind == "voice" and inbound.recognition.strip():
            spoken = inbound.recognition.strip()
            text = self.choices.resolve(user_ref, spoken) or spoken
            return self._assistant_job(inbound, user_ref, text, key)
        text_key = "wechat_voice_unclear" if kind == "voice" else "wechat_text_or_voice"
        logger.info("wechat %s user=%s: text or voice only", kind[:20], user_ref)
        return self._fixed_job(user_ref, text_key)

    def _assistant_job(self, inbound: Inbound, user_ref: str, text: str, key: str) -> Job:
        message = Message(channel=CHANNEL, user=inbound.from_user, text=text, message_id=key)
        logger.info("wechat %s user=%s", inbound.msg_type.lower(), user_ref)

        def job() -> tuple[list[Reply], str]:
            self._notify_inbound(user_ref)
            try:
                replies = self.host.assistant.handle(message)
                return replies, self._language(user_ref)
            except Exception:
                # The boundary: log the fault (never the text) and give the worker a way on.
                logger.exception("error answering a wechat message user=%s", user_ref)
                lang = self._default_lang
                return [Reply(text=self.host.catalogue.text("error", lang))], lang

        return job

    def _fixed_job(self, user_ref: str, text_key: str) -> Job:
        def job() -> tuple[list[Reply], str]:
            self._notify_inbound(user_ref)
            lang = self._language(user_ref)
            return [Reply(text=self.host.catalogue.text(text_key, lang))], lang

        return job

    def _notify_inbound(self, user_ref: str) -> None:
        if self.on_inbound is None:
            return
        try:
            self.on_inbound(user_ref)
        except StorageUnavailable:
            logger.warning("could not requeue waiting replies user=%s", user_ref)
        except Exception:
            # Never let the outbox keep a worker from getting an answer.
            logger.exception("inbound hook failed user=%s", user_ref)

    def _language(self, user_ref: str) -> str:
        try:
            lang = self.host.store.load(user_ref, CHANNEL).lang
        except StorageUnavailable:
            lang = None
        return lang or self._default_lang

    def _render(self, exchange: _Exchange, user_ref: str) -> Rendered:
        if exchange.rendered is None:
            replies, lang = exchange.task.result()
            exchange.rendered = self.renderer.render(replies, lang)
            if replies:
                self.choices.remember(
                    user_ref, exchange.rendered.choices, exchange.rendered.words
                )
        return exchange.rendered

    async def _passive(
        self, exchange: _Exchange, inbound: Inbound, user_ref: str, deadline: float
    ) -> str | None:
        """The passive reply text, or None to answer ``success``."""
        if exchange.mode == "pending":
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(asyncio.shield(exchange.task), max(remaining, 0.0))
            except TimeoutError:
                if exchange.mode == "pending":
                    return self._go_async(exchange, inbound, user_ref)
        if exchange.mode == "async":
            return None
        if exchange.mode == "pending":
            messages = self._render(exchange, user_ref).messages
            if not messages:
                exchange.mode = "async"  # nothing to say (e.g. a redelivery already answered)
                return None
            exchange.mode = "passive"
            if self.api is None:
                # No customer-service API: everything must fit in the one passive reply.
                exchange.passive = _truncate("\n\n".join(messages), self.config.max_text_bytes)
            else:
                exchange.passive, exchange.rest = messages[0], tuple(messages[1:])
        return exchange.passive

    def _go_async(self, exchange: _Exchange, inbound: Inbound, user_ref: str) -> str | None:
        exchange.mode = "async"
        if self.api is None:
            logger.warning("wechat answer too slow and no API to send it later user=%s", user_ref)
            exchange.mode = "passive"
            exchange.passive = self.host.catalogue.text("wechat_slow", self._default_lang)
            return exchange.passive
        logger.info("wechat answer slower than %.1f s, sending it later user=%s",
                    self.config.reply_budget, user_ref)
        self.spawn(self._deliver_later(exchange, inbound.from_user, user_ref))
        return None

    async def _deliver_later(self, exchange: _Exchange, openid: str, user_ref: str) -> None:
        await asyncio.shield(exchange.task)
        await self.send(openid, user_ref, self._render(exchange, user_ref).messages)

    async def send(self, openid: str, user_ref: str, messages: tuple[str, ...] | list[str]) -> int:
        """Send texts through the customer-service API, in order; returns how many went.

        Stops at the first refusal (the window closed, the worker left); logs only the
        pseudonym and WeChat's error code.
        """
        if self.api is None:
            return 0
        sent = 0
        for text in messages:
            try:
                await self.api.send_text(openid, text)
            except WeChatError as exc:
                code = getattr(exc, "errcode", type(exc).__name__)
                logger.warning("wechat customer-service send failed (%s) user=%s", code, user_ref)
                break
            sent += 1
        return sent

    def _reply_xml(self, inbound: Inbound, text: str, params: dict[str, str]) -> str:
        now = int(self._wall())
        xml = _text_xml(inbound.from_user, inbound.to_user, text, now)
        if self._crypto is None or params.get("encrypt_type", "").lower() != "aes":
            return xml
        timestamp, nonce = str(now), str(secrets.randbelow(10**10))
        encrypted = self._crypto.encrypt(xml)
        return encrypted_reply_xml(
            encrypted, self._crypto.signature(timestamp, nonce, encrypted), timestamp, nonce
        )

    # -- housekeeping -----------------------------------------------------------------------
    def _prune(self) -> None:
        horizon = time.monotonic() - self.config.retry_memory
        while self._exchanges:
            key, oldest = next(iter(self._exchanges.items()))
            if oldest.created > horizon and len(self._exchanges) < self.config.max_in_flight:
                break
            if not oldest.task.done() and len(self._exchanges) < self.config.max_in_flight:
                break
            del self._exchanges[key]

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, kept alive until it ends or :meth:`aclose`."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def aclose(self, grace: float = 5.0) -> None:
        """Let background sends finish for up to ``grace`` seconds, then stop them."""
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        if self.api is not None:
            await self.api.aclose()


def _dedupe_key(inbound: Inbound, user_ref: str) -> str:
    """WeChat's de-duplication key: ``MsgId``, or for events sender + ``CreateTime``.

    The sender is the pseudonym, not the OpenID: the key is stored by the Assistant.
    """
    if inbound.msg_id:
        return f"msg:{inbound.msg_id[:64]}"
    return f"ev:{user_ref}:{inbound.create_time[:20]}"


def _truncate(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", errors="ignore").rstrip() + "…"


