"""The burst benchmark runs and reports its numbers (no timing assertions)."""

from __future__ import annotations

import pytest

from grievance.bench import burst


def test_burst_reports_its_shape(service):
    result = burst(service, 20, threads=2)
    assert result["n"] == 20 and result["reports_per_s"] > 0
    assert result["backend"] in ("sqlite", "postgresql")
    assert set(result) == {"backend", "n", "threads", "seconds", "reports_per_s",
                           "latency_ms_p50", "latency_ms_p95", "code_hash_cost"}
    assert service.count_cases() == 20


def test_burst_arguments_fail_fast(service):
    with pytest.raises(ValueError, match="n must be"):
        burst(service, 0)
