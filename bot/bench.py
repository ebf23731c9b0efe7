"""``workright bench``: speed and memory, printed as JSON (numbers go in issue notes).

Measures: p50/p95 of ``Assistant.handle`` over the questions; messages/s and latency
through ``POST /api/messages`` with several concurrent clients on loopback (the load stops
by itself after a bounded number of requests and a time limit); peak RSS; cold start of a
new process with a built index.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.app import build_app
from bot.config import PROJECT_ROOT, Settings
from bot.evaluation import load_questions
from bot.measure import free_port
from bot.messages import Message
from bot.server import create_server

DEFAULT_QUESTIONS = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"
FALLBACK_QUESTIONS = ["公司不和我签劳动合同怎么办", "加班费怎么算", "How many days of leave?"]
LOAD_TIME_LIMIT_S = 120.0


def _percentiles(values: list[float]) -> dict[str, float]:
    array = np.array(values or [0.0])
    return {"p50": round(float(np.percentile(array, 50)), 2),
            "p95": round(float(np.percentile(array, 95)), 2)}


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cold_start(settings_path: str | None) -> float:
    """Seconds for a new process to load the settings, encoder, index and classifier."""
    code = (
        "import time;t=time.perf_counter();"
        "from bot.config import load_settings;from bot.app import build_app;"
        f"a=build_app(load_settings({settings_path!r} and __import__('pathlib').Path("
        f"{settings_path!r})));"
        "print(time.perf_counter()-t);a.close()"
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600,
        cwd=PROJECT_ROOT,
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 2)


async def _load(url: str, texts: list[str], clients: int, requests: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))
    deadline = time.monotonic() + LOAD_TIME_LIMIT_S

    async def client(number: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for i in counter:
                if time.monotonic() > deadline:
                    return
                body = {"session": f"bench-{number}-{i % 5}", "text": texts[i % len(texts)],
                        "message_id": f"bench-{number}-{i}"}
                start = time.perf_counter()
                response = await http.post("/api/messages", json=body)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - start
    return {"requests": len(latencies), "errors": errors, "clients": clients,
            "messages_per_s": round(len(latencies) / elapsed, 2),
            "latency_ms": _percentiles(latencies)}


def run_bench(
    settings: Settings, questions: Path | None = None, clients: int = 8, requests: int = 400
) -> dict[str, Any]:
    """Run every measurement on a throwaway database; return the JSON-ready result."""
    import uvicorn

    path = questions or DEFAULT_QUESTIONS
    texts = ([str(r["question"]) for r in load_questions(path)] if path.exists()
             else FALLBACK_QUESTIONS)
    result: dict[str, Any] = {"questions": len(texts)}
    result["cold_start_s"] = cold_start(None)
    with tempfile.TemporaryDirectory(prefix="workright-bench-") as tmp:
        settings = settings.model_copy(deep=True)
        settings.database.url = f"sqlite:///{tmp}/bench.db"
        settings.secrets.database_url = None
        app = build_app(settings)
        try:
            timings = []
            for number, text in enumerate(texts):
                message = Message(channel="bench", user=f"bench-{number}", text=text)
                start = time.perf_counter()
                app.assistant.handle(message)
                timings.append((time.perf_counter() - start) * 1000)
            result["handle_ms"] = _percentiles(timings)

            port = free_port()
            config = uvicorn.Config(create_server(app), host="127.0.0.1", port=port,
                                    log_level="warning", access_log=False)
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            for _ in range(200):
                if server.started:
                    break
                time.sleep(0.05)
            try:
                result["http"] = asyncio.run(
                    _load(f"http://127.0.0.1:{port}", texts, clients, requests)
                )
            finally:
                server.should_exit = True
                thread.join(timeout=10)
        finally:
            app.close()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result
