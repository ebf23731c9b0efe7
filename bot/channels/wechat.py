"""The WeChat Official Account (公众号) channel: a thin webhook adapter at ``/wechat``.

``GET /wechat`` answers WeChat's server-URL check; ``POST /wechat`` takes messages in
plaintext or safe mode (``encrypt_type=aes``). Each message becomes a
:class:`~bot.messages.Message` for the Assistant; the answer goes back as the passive
reply when it is ready within ``reply_budget`` seconds (WeChat gives up after 5 s and
retries three times), otherwise the request is answered ``success`` at once and the
answer follows through the customer-service API (``message/custom/send``).

Built on ``cryptography`` + ``defusedxml`` rather than ``wechatpy`` (see
:mod:`bot.channels.wechat_crypto` for why). The parts:

- :mod:`~bot.channels.wechat_channel`: checks, parsing, answering within the budget;
- :mod:`~bot.channels.wechat_crypto`: signatures and the safe-mode AES envelope;
- :mod:`~bot.channels.wechat_xml`: ``defusedxml`` parsing and reply XML;
- :mod:`~bot.channels.wechat_render`: length limits and numbered choices;
- :mod:`~bot.channels.wechat_api`: access tokens and customer-service messages;
- :mod:`~bot.channels.wechat_outbox`: moderators' replies through the grievance outbox.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.background import BackgroundTask

from bot.channels.wechat_api import WeChatApi
from bot.channels.wechat_channel import Refused, WeChatChannel
from bot.channels.wechat_config import WeChatConfig, WeChatHost

logger = logging.getLogger(__name__)

__all__ = ["Refused", "WeChatChannel", "WeChatConfig", "install", "mount"]


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes whatever Content-Length says."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def install(api: FastAPI, channel: WeChatChannel, path: str = "/wechat") -> None:
    """Add the ``GET``/``POST`` webhook routes for ``channel`` to ``api``.

    Args:
        api: the FastAPI application.
        channel: the configured channel.
        path: where WeChat's server URL points.
    """

    @api.get(path, include_in_schema=False)
    async def wechat_verify(request: Request) -> Response:
        try:
            echostr = channel.verify_url(dict(request.query_params))
        except Refused as exc:
            logger.warning("wechat URL check refused (%d): %s", exc.status, exc.reason)
            return PlainTextResponse("", status_code=exc.status)
        return PlainTextResponse(echostr)

    @api.post(path, include_in_schema=False)
    async def wechat_message(request: Request) -> Response:
        try:
            body = await _read_body(request, channel.config.max_body_bytes)
            answer = await channel.handle_post(dict(request.query_params), body)
        except Refused as exc:
            logger.warning("wechat request refused (%d): %s", exc.status, exc.reason)
            return PlainTextResponse("", status_code=exc.status)
        if not answer.xml:
            return PlainTextResponse(answer.body)
        # The rest of a long answer leaves after the passive reply, so it arrives after it.
        task = BackgroundTask(answer.after) if answer.after is not None else None
        return Response(answer.body, media_type="application/xml", background=task)


def mount(api: FastAPI, app: WeChatHost) -> None:
    """The server hook (see :data:`bot.server.Mount`): routes, API client, outbox sender.

    Raises:
        ConfigError: inconsistent ``WECHAT_*`` settings (at start-up).
    """
    from bot.channels.wechat_outbox import attach_outbox

    logging.getLogger("httpx").setLevel(logging.WARNING)  # URLs carry the secret and token
    config = WeChatConfig.from_settings(app.settings)
    client = (
        WeChatApi(config.app_id, config.app_secret, config.api_base)
        if config.app_id and config.app_secret
        else None
    )
    channel = WeChatChannel(config, app, api=client)
    install(api, channel)
    # Shutdown hooks run in reverse: the outbox sender stops before the API client closes.
    api.state.on_shutdown.append(channel.aclose)
    attach_outbox(api, app, channel)
    logger.info(
        "wechat channel on /wechat (%s mode, customer-service API %s)",
        "safe" if config.encoding_aes_key else "plaintext",
        "on" if client else "off",
    )
