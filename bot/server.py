"""The ASGI server: the web chat page, ``POST /api/messages`` and health checks.

Channels with webhooks (Telegram, WeChat) and the moderator console mount their routers
on the same app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from bot.app import App
from bot.messages import Message

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"

#: Hooks that add routes or background tasks to the server (channels, console).
Mount = Callable[[FastAPI, App], None]


class MessageIn(BaseModel):
    """The body of ``POST /api/messages``."""

    model_config = ConfigDict(extra="ignore")

    session: str = Field(min_length=1, max_length=128)
    text: str = Field(default="", max_length=200_000)
    message_id: str | None = Field(default=None, max_length=128)


def create_server(app: App, mounts: list[Mount] | None = None) -> FastAPI:
    """The FastAPI application serving ``app``.

    Args:
        app: the built application (see :func:`bot.app.build_app`).
        mounts: extra routers and background tasks (Telegram, WeChat, console).
    """
    startup: list[Callable[[], Any]] = []
    shutdown: list[Callable[[], Any]] = []

    @asynccontextmanager
    async def lifespan(_api: FastAPI) -> AsyncIterator[None]:
        for hook in startup:
            result = hook()
            if hasattr(result, "__await__"):
                await result
        yield
        for hook in reversed(shutdown):
            result = hook()
            if hasattr(result, "__await__"):
                await result

    api = FastAPI(title="WorkRight", docs_url=None, redoc_url=None, lifespan=lifespan)
    api.state.app = app
    api.state.on_startup = startup
    api.state.on_shutdown = shutdown
    max_body = app.settings.server.max_body_bytes

    @api.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Any]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return JSONResponse({"error": f"request body over {max_body} bytes"}, status_code=413)
        response: Response = await call_next(request)
        return response

    @api.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        return JSONResponse(
            {"error": "invalid request", "details": problems,
             "expected": {"session": "string", "text": "string", "message_id": "string?"}},
            status_code=422,
        )

    @api.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/")
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    @api.get("/static/{name}")
    async def static(name: str) -> Response:
        path = (WEB_DIR / name).resolve()
        if path.parent != WEB_DIR or not path.is_file():
            return JSONResponse({"error": "not found"}, status_code=404)
        return FileResponse(path)

    @api.post("/api/messages")
    async def post_message(body: MessageIn) -> JSONResponse:
        message = Message(channel="web", user=body.session, text=body.text,
                          message_id=body.message_id)
        try:
            replies = await run_in_threadpool(app.assistant.handle, message)
        except Exception:
            # The boundary: log the fault (never the text) and give the worker a way on.
            logger.exception("error handling a web message")
            lang = app.settings.assistant.default_language
            text = app.catalogue.text("error", lang)
            return JSONResponse(
                {"replies": [{"text": text, "buttons": [], "citations": []}],
                 "error": "internal error"},
                status_code=500,
            )
        return JSONResponse({"replies": [r.to_dict() for r in replies]})

    for mount in mounts or []:
        mount(api, app)
    return api
