"""How many reports per second the grievance queue takes: ``burst(service, n)``.

Used by ``workright bench`` and runnable alone::

    python -m grievance.bench --url sqlite:///var/bench.db --n 1000
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from grievance.models import CATEGORIES, URGENCIES
from grievance.service import GrievanceService, NewReport

_ACCOUNT = (
    "老板三个月没有发工资，每天加班到晚上十一点，没有加班费。"
    "The boss has not paid us for three months and we work until 11 pm without overtime pay. "
) * 4


def _report(i: int) -> NewReport:
    return NewReport(
        category=CATEGORIES[i % len(CATEGORIES)],
        urgency=URGENCIES[i % len(URGENCIES)],
        account=f"{_ACCOUNT} #{i}",
        jurisdiction="CN",
        lang="zh",
        employer="Bench Garments Co.",
        location="Dongguan",
        workers_affected="40",
        contact_consent=i % 2 == 0,
        worker_ref=secrets.token_hex(16),
        channel="telegram" if i % 2 == 0 else None,
        chat_id=str(100_000 + i) if i % 2 == 0 else None,
    )


def burst(service: GrievanceService, n: int = 1000, *, threads: int = 1) -> dict[str, Any]:
    """Open ``n`` realistic reports as fast as possible and time them.

    Each report is one full ``open_case`` (receipt-code hash, encryption of every field,
    one committed transaction), as a worker's confirmation would be.

    Args:
        service: the service to write through (its database receives ``n`` cases).
        n: how many reports.
        threads: concurrent writers (several bot workers on one database).

    Returns:
        ``{"backend", "n", "threads", "seconds", "reports_per_s", "latency_ms_p50",
        "latency_ms_p95", "code_hash_cost"}``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    reports = [_report(i) for i in range(n)]

    def one(report: NewReport) -> float:
        start = time.perf_counter()
        service.open_case(report)
        return time.perf_counter() - start

    started = time.perf_counter()
    if threads == 1:
        latencies = [one(r) for r in reports]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            latencies = list(pool.map(one, reports))
    seconds = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    return {
        "backend": service.backend_name,
        "n": n,
        "threads": threads,
        "seconds": round(seconds, 3),
        "reports_per_s": round(n / seconds, 1),
        "latency_ms_p50": round(statistics.median(ms), 2),
        "latency_ms_p95": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 2),
        "code_hash_cost": service.code_hash_cost,
    }


def main(argv: list[str] | None = None) -> None:
    """Run a burst against a database URL and print the result as JSON."""
    from grievance.crypto import Vault
    from grievance.db import make_engine, make_session_factory, migrate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL (a scratch database)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cost", type=int, default=None, help="scrypt n for receipt codes")
    args = parser.parse_args(argv)
    engine = make_engine(args.url)
    migrate(engine)
    kwargs: dict[str, Any] = {} if args.cost is None else {"code_hash_cost": args.cost}
    service = GrievanceService(
        make_session_factory(engine), Vault(secrets.token_bytes(32)), **kwargs
    )
    try:
        print(json.dumps(burst(service, args.n, threads=args.threads)))  # noqa: T201
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
