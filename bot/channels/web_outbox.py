"""Moderators' replies for the web chat: ``GET /api/messages/outbox?session=...`` and
``POST /api/messages/outbox/ack``.

The web page cannot be pushed to, so it polls (every 5 s while open, and at once when the
worker comes back). A poll leases the replies waiting for this session's pseudonym (see
:class:`grievance.outbox.PullOutbox`); the page shows each reply id once and acknowledges
the ids it has, and only then do they count as delivered. A reply whose response was lost
on the way (a phone losing its signal) comes back on a poll after the lease. A session id
that is not the case's worker maps to another pseudonym: it gets an empty list and its
acknowledgements change nothing, exactly like a worker with nothing waiting, so the
answers reveal nothing about other sessions or cases.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.app import App
from grievance.errors import StorageUnavailable
from grievance.outbox import PullOutbox

logger = logging.getLogger(__name__)

#: The channel name the web chat's cases carry (``Message(channel="web", ...)``).
WEB_CHANNEL = "web"


class Acknowledgement(BaseModel):
    """``POST /api/messages/outbox/ack``: the reply ids a page has shown."""

    session: str = Field(min_length=1, max_length=128)
    ids: list[int] = Field(min_length=1, max_length=100)


def mount(api: FastAPI, app: App) -> None:
    """Add ``GET /api/messages/outbox`` and ``POST /api/messages/outbox/ack`` to the server.

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
                "id": message.outbox_id,
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

    @api.post("/api/messages/outbox/ack")
    async def acknowledge(ack: Acknowledgement) -> JSONResponse:
        user_ref = app.vault.pseudonym(WEB_CHANNEL, ack.session)
        try:
            done = await run_in_threadpool(outbox.acknowledge, user_ref, ack.ids)
        except StorageUnavailable:
            # Nothing was marked: the replies come back after their lease, and the page
            # shows each id once.
            logger.warning("web outbox: database unavailable for an ack user=%s", user_ref)
            return JSONResponse({"acknowledged": 0, "error": "try again"}, status_code=503)
        if done:
            logger.info("web outbox: %d reply(ies) acknowledged user=%s", done, user_ref)
        return JSONResponse({"acknowledged": done}, headers={"Cache-Control": "no-store"})
