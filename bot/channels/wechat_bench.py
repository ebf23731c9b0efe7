"""A bounded load test of the WeChat webhook: messages per second and latency percentiles.

Posts ``n`` signed text messages (plaintext, or safe mode when an EncodingAESKey is given),
each with its own ``MsgId``, from ``users`` simulated workers, at most ``concurrency`` at a
time, to a running server, and reports what came back. For loopback use on a test
deployment: the messages reach the Assistant and are stored like any other.

Usage::

    WECHAT_TOKEN=... python -m bot.channels.wechat_bench --url http://127.0.0.1:8080/wechat \\
        -n 500 -c 16 --questions ../shared/eval/dev.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bot.channels.wechat_crypto import MessageCrypto, sign
from bot.channels.wechat_xml import cdata
from bot.measure import nearest_rank

MAX_MESSAGES = 100_000
MAX_CONCURRENCY = 256
QUESTIONS = ("加班费怎么算？", "老板扣我身份证怎么办", "How is overtime paid?",
             "工厂不给签劳动合同", "最低工资是多少")


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one load run measured (latencies in milliseconds, per request)."""

    messages: int
    concurrency: int
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    passive: int
    success: int
    errors: int


def _message(openid: str, msg_id: int, text: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
        f"<FromUserName>{cdata(openid)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(text)}</Content><MsgId>{msg_id}</MsgId></xml>"
    )


async def run_load(
    url: str,
    token: str,
    n: int = 200,
    concurrency: int = 8,
    *,
    users: int = 50,
    questions: Sequence[str] = QUESTIONS,
    encoding_aes_key: str | None = None,
    app_id: str | None = None,
    request_timeout: float = 30.0,
) -> LoadResult:
    """Post ``n`` messages to the webhook at ``url`` and measure.

    Args:
        url: the full webhook URL (``http://127.0.0.1:8080/wechat``).
        token: the server's ``WECHAT_TOKEN``.
        n: messages to post (at most 100,000).
        concurrency: requests in flight at most (at most 256).
        users: distinct simulated workers.
        questions: the texts to send, in turn (repeats may hit caches: use many).
        encoding_aes_key: post in safe mode with this key (needs ``app_id``).
        app_id: the account's AppID, for safe mode.
        request_timeout: seconds per request.

    Raises:
        ValueError: bounds exceeded.
    """
    if not 1 <= n <= MAX_MESSAGES:
        raise ValueError(f"n must be in 1..{MAX_MESSAGES}, got {n}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be in 1..{MAX_CONCURRENCY}, got {concurrency}")
    if not questions:
        raise ValueError("questions must not be empty")
    crypto = MessageCrypto(token, encoding_aes_key, app_id or "") if encoding_aes_key else None
    run = secrets.randbelow(10**9)
    latencies: list[float] = []
    counts = {"passive": 0, "success": 0, "errors": 0}
    gate = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, i: int) -> None:
        text = questions[i % len(questions)]
        xml = _message(f"bench-{run}-{i % users}", run * MAX_MESSAGES + i, text)
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        params = {"timestamp": timestamp, "nonce": nonce,
                  "signature": sign(token, timestamp, nonce)}
        if crypto is not None:
            encrypted = crypto.encrypt(xml)
            params["encrypt_type"] = "aes"
            params["msg_signature"] = crypto.signature(timestamp, nonce, encrypted)
            xml = f"<xml><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        async with gate:
            started = time.perf_counter()
            try:
                response = await client.post(url, params=params, content=xml.encode())
            except httpx.HTTPError:
                counts["errors"] += 1
                return
            latencies.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            counts["errors"] += 1
        elif response.text == "success":
            counts["success"] += 1
        else:
            counts["passive"] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=request_timeout, limits=limits, trust_env=False) as client:
        began = time.perf_counter()
        await asyncio.gather(*(one(client, i) for i in range(n)))
        seconds = time.perf_counter() - began
    latencies.sort()
    return LoadResult(
        messages=n, concurrency=concurrency, seconds=round(seconds, 3),
        per_second=round(n / seconds, 1) if seconds else 0.0,
        p50_ms=nearest_rank(latencies, 0.50),
        p95_ms=nearest_rank(latencies, 0.95),
        max_ms=round(latencies[-1], 1) if latencies else 0.0,
        passive=counts["passive"], success=counts["success"], errors=counts["errors"],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.channels.wechat_bench``: print one JSON line with the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/wechat")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=Path,
                        help="a JSONL file with a 'question' per line (e.g. the eval set)")
    args = parser.parse_args(argv)
    questions: Sequence[str] = QUESTIONS
    if args.questions is not None:
        lines = args.questions.read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()]
    token = os.environ.get("WECHAT_TOKEN")
    if not token:
        parser.error("set WECHAT_TOKEN to the server's token")
    result = asyncio.run(run_load(
        args.url, token, args.n, args.concurrency, users=args.users, questions=questions,
        encoding_aes_key=os.environ.get("WECHAT_ENCODING_AES_KEY"),
        app_id=os.environ.get("WECHAT_APP_ID"),
    ))
    print(json.dumps(asdict(result)))  # noqa: T201 - the command's output
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
