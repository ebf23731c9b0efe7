"""Moderators' replies for the web chat: ``GET /api/messages/outbox?session=...``.

The web page cannot be pushed to, so it polls (every 5 s while open, and at once when the
worker comes back). The grievance outbox's pull delivery hands over the replies waiting
for this session's pseudonym and marks them sent in the same transaction, so a reply
counts as delivered only once a page has fetched it. A session id that is not the case's
worker maps to another pseudonym and gets an empty list, exactly like a worker with
nothing waiting: the answer reveals nothing about other sessions or cases.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.app import App
from grievance.errors import StorageUnavailable
from grievance.outbox import PullOutbox

logger = logging.getLogger(__name__)

#: The channel name the web chat's cases carry (``Message(channel="web", ...)``).
WEB_CHANNEL = "web"


def mount(api: FastAPI, app: App) -> None:
    """Add ``GET /api/messages/outbox`` to the server.

    Args:
        api: the FastAPI application from :func:`bot.server.create_server`.
        app: the built application (its database sessions and vault).
    """
    outbox = PullOutbox(app.services["sessions"], app.vault, channel=WEB_CHANNEL)

    @api.get("/api/messages/outbox")
    async def fetch_outbox(
        session: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> JSONResponse:
        user_ref = app.vault.pseudonym(WEB_CHANNEL, session)
        try:
            messages = await run_in_threadpool(outbox.pending_for, user_ref)
        except StorageUnavailable:
            # Nothing was marked sent: the page simply asks again on its next poll.
            logger.warning("web outbox: database unavailable user=%s", user_ref)
            return JSONResponse({"replies": [], "error": "try again"}, status_code=503)
        replies: list[dict[str, Any]] = [
            {
                "text": message.text,
                "buttons": [],
                "citations": [],
                "from": "moderator",
                "at": message.created_at.isoformat(),
            }
            for message in messages
        ]
        if replies:
            logger.info("web outbox: %d reply(ies) fetched user=%s", len(replies), user_ref)
        return JSONResponse({"replies": replies}, headers={"Cache-Control": "no-store"})
