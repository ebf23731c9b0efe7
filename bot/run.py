"""``workright serve``: build the app and run the ASGI server with uvicorn."""

from __future__ import annotations

import logging

from bot.app import build_app
from bot.config import Settings
from bot.server import Mount, create_server

logger = logging.getLogger(__name__)


def channel_mounts(settings: Settings) -> list[Mount]:
    """The channels and the console to mount, from what is configured."""
    mounts: list[Mount] = []
    from bot.channels.web_outbox import mount as web_outbox

    mounts.append(web_outbox)
    from grievance.console.app import mount as console

    mounts.append(console)
    if settings.secrets.telegram_bot_token is not None:
        from bot.channels.telegram import mount as telegram

        mounts.append(telegram)
    if settings.secrets.wechat_token is not None:
        from bot.channels.wechat import mount as wechat

        mounts.append(wechat)
    return mounts


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, build_index: bool = False
) -> int:
    """Run the server until interrupted; returns the exit code."""
    import uvicorn

    app = build_app(settings, build_index=build_index)
    api = create_server(app, channel_mounts(settings))
    host = host or settings.server.host
    port = port or settings.server.port
    logger.info("serving the web chat on http://%s:%d/", host, port)
    try:
        uvicorn.run(api, host=host, port=port, log_level="info", access_log=False)
    finally:
        app.close()
    return 0
