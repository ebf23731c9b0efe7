"""A bounded load test of the Telegram webhook path: updates per second, latency percentiles.

Everything runs on loopback: a minimal stand-in for the Bot API (it accepts what the bot
calls and counts the answers) and the server with the Telegram channel in webhook mode
pointed at it. ``n`` text updates from ``chats`` simulated workers are posted to
``/telegram/webhook`` with the secret header, at most ``concurrency`` in progress at a time;
an update counts as done when the channel has sent all its answers to the Bot API.
Latencies are per update, from the POST to that moment (``ack`` is the webhook's own
200). The run stops after ``n`` updates or ``time_limit_s``, whichever comes first.

The rate limiter keeps to Telegram's flood limit (30 messages a second to different
chats), so with it the numbers are what Telegram would allow; ``rate_limit=False`` shows
what the bot itself can do.

Usage (a throwaway SQLite database; the configured index and encoder)::

    python -m bot.channels.telegram_bench -n 300 -c 16 [--no-rate-limit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.app import App, build_app
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.channels.telegram_config import TelegramConfig
from bot.config import load_settings
from bot.measure import free_port, nearest_rank
from bot.server import create_server

MAX_UPDATES = 100_000
MAX_CONCURRENCY = 256
QUESTIONS = ("加班费怎么算？", "老板扣我身份证怎么办", "How is overtime paid?",
             "工厂不给签劳动合同", "最低工资是多少")
_TOKEN = "1000000001:workright-bench-token"  # noqa: S105 - for the stand-in only
_BOT = {"id": 1000000001, "is_bot": True, "first_name": "WorkRight", "username": "bench_bot"}


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one load run measured (latencies in milliseconds, per update)."""

    updates: int
    done: int
    concurrency: int
    chats: int
    rate_limit: bool
    seconds: float
    updates_per_s: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    ack_p50_ms: float
    ack_p95_ms: float
    messages_sent: int
    errors: int


class _BotApiSink:
    """Just enough of the Bot API for the channel, counting the messages it is sent."""

    def __init__(self) -> None:
        self.sent = 0
        self._lock = threading.Lock()

    def asgi(self) -> Starlette:
        async def endpoint(request: Request) -> JSONResponse:
            method = request.path_params["method"]
            result: Any = True
            if method == "getMe":
                result = _BOT
            elif method == "sendMessage":
                form = await request.form()
                with self._lock:
                    self.sent += 1
                    number = self.sent
                chat = {"id": int(str(form["chat_id"])), "type": "private", "first_name": "W"}
                result = {"message_id": number, "date": int(time.time()), "chat": chat,
                          "from": _BOT, "text": str(form["text"])}
            elif method not in ("setWebhook", "setMyCommands", "answerCallbackQuery",
                                "deleteWebhook"):
                return JSONResponse({"ok": False, "error_code": 404,
                                     "description": "Not Found"}, status_code=404)
            return JSONResponse({"ok": True, "result": result})

        return Starlette(routes=[Route("/bot{token}/{method}", endpoint, methods=["POST"])])


@contextmanager
def _serve(asgi: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port, in a thread."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the bench server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class _Done:
    """The channel's ``on_processed`` hook, waking the load loop (it runs in another thread)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[int, asyncio.Future[float]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def expect(self, update_id: int) -> asyncio.Future[float]:
        assert self._loop is not None
        future: asyncio.Future[float] = self._loop.create_future()
        self._waiting[update_id] = future
        return future

    def __call__(self, update: object) -> None:
        at = time.perf_counter()
        future = self._waiting.pop(getattr(update, "update_id", -1), None)
        if future is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(_resolve, future, at)


def _resolve(future: asyncio.Future[float], at: float) -> None:
    if not future.done():
        future.set_result(at)


def _update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    chat = {"id": chat_id, "first_name": "Worker", "type": "private"}
    user = {"id": chat_id, "is_bot": False, "first_name": "Worker", "language_code": "zh-hans"}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "from": user, "chat": chat, "date": int(time.time()),
        "text": text}}


async def _drive(url: str, secret: str, done: _Done, n: int, concurrency: int, chats: int,
                 time_limit_s: float) -> tuple[list[float], list[float], int, float]:
    done.bind(asyncio.get_running_loop())
    run = (1 + secrets.randbelow(10**6)) * MAX_UPDATES
    latencies: list[float] = []
    acks: list[float] = []
    errors = 0
    counter = iter(range(n))
    deadline = time.monotonic() + time_limit_s

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            if time.monotonic() > deadline:
                return
            update_id = run + i
            finished = done.expect(update_id)
            # Workers are spread over chats; one chat's messages are handled in order anyway.
            update = _update(update_id, 700_000_000 + i % chats, QUESTIONS[i % len(QUESTIONS)])
            started = time.perf_counter()
            try:
                response = await client.post(WEBHOOK_PATH, json=update,
                                             headers={SECRET_HEADER: secret})
            except httpx.HTTPError:
                errors += 1
                continue
            acks.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1
                continue
            try:
                at = await asyncio.wait_for(finished, timeout=max(deadline - time.monotonic(), 1))
            except TimeoutError:
                errors += 1
                continue
            latencies.append((at - started) * 1000)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits,
                                 trust_env=False) as client:
        began = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - began
    return latencies, acks, errors, seconds


def run_load(app: App, n: int = 200, concurrency: int = 8, *, chats: int = 50,
             rate_limit: bool = True, time_limit_s: float = 120.0,
             warm_up: int = 5) -> LoadResult:
    """Post ``n`` updates through the webhook path of ``app`` and measure.

    Args:
        app: a built application (its database receives the benchmark's conversations:
            use a throwaway one).
        n: updates to post (at most 100,000).
        concurrency: updates in progress at most (at most 256).
        chats: distinct simulated workers.
        rate_limit: keep to Telegram's flood limits as in production.
        time_limit_s: stop posting after this long.
        warm_up: updates sent first and not measured (models and caches load lazily).

    Raises:
        ValueError: bounds exceeded.
    """
    if not 1 <= n <= MAX_UPDATES:
        raise ValueError(f"n must be in 1..{MAX_UPDATES}, got {n}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in 1..{MAX_CONCURRENCY}, got {concurrency}")
    if chats < 1 or time_limit_s <= 0 or not 0 <= warm_up <= 100:
        raise ValueError("need chats >= 1, time_limit_s > 0 and warm_up in 0..100")

    done = _Done()
    sink = _BotApiSink()
    secret = secrets.token_urlsafe(24)
    with _serve(sink.asgi()) as api_url:
        config = TelegramConfig(token=_TOKEN, api_base=api_url, webhook_secret=secret,
                                webhook_url="https://bench.invalid/telegram/webhook")
        channel = TelegramChannel(app, config, rate_limit=rate_limit, on_processed=done,
                                  max_concurrent_updates=concurrency)
        with _serve(create_server(app, [lambda api, _app: channel.mount(api)])) as url:
            if warm_up > 0:
                asyncio.run(_drive(url, secret, done, warm_up, 1, warm_up, time_limit_s))
            sent_before = sink.sent
            latencies, acks, errors, seconds = asyncio.run(
                _drive(url, secret, done, n, concurrency, chats, time_limit_s))
    latencies.sort()
    acks.sort()
    return LoadResult(
        updates=n, done=len(latencies), concurrency=concurrency, chats=chats,
        rate_limit=rate_limit, seconds=round(seconds, 3),
        updates_per_s=round(len(latencies) / seconds, 1) if seconds else 0.0,
        p50_ms=nearest_rank(latencies, 0.50), p95_ms=nearest_rank(latencies, 0.95),
        max_ms=nearest_rank(latencies, 1.0),
        ack_p50_ms=nearest_rank(acks, 0.50), ack_p95_ms=nearest_rank(acks, 0.95),
        messages_sent=sink.sent - sent_before, errors=errors,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.channels.telegram_bench``: print one JSON line with the result."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args(argv)
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="workright-telegram-bench-") as tmp:
        settings.database.url = f"sqlite:///{tmp}/bench.db"
        settings.secrets.database_url = None
        settings.privacy.key_file = Path(tmp) / "secret.key"
        app = build_app(settings)
        try:
            result = run_load(app, args.n, args.concurrency, chats=args.chats,
                              rate_limit=not args.no_rate_limit, time_limit_s=args.time_limit)
        finally:
            app.close()
    print(json.dumps(asdict(result)))  # noqa: T201 - the command's output
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
