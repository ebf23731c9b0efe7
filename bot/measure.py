"""Small helpers shared by the benchmarks (``workright bench`` and the channel benches)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nearest_rank(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ascending ``sorted_values`` by nearest rank, to 0.1; 0.0
    when there are none."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return round(sorted_values[index], 1)
