"""The bounded load run of the webhook path: every update is answered, bounds are checked."""

from __future__ import annotations

import pytest

from bot.channels.telegram_bench import run_load


def test_a_small_load_run_answers_every_update(app):
    result = run_load(app, n=12, concurrency=4, chats=3, warm_up=1, time_limit_s=120)
    assert result.done == 12 and result.errors == 0
    assert result.messages_sent >= 12 and result.updates_per_s > 0
    assert 0 < result.p50_ms <= result.p95_ms <= result.max_ms


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 100_001}, {"concurrency": 0},
                                    {"concurrency": 257}, {"chats": 0}, {"warm_up": 101}])
def test_the_run_is_bounded(kwargs):
    with pytest.raises(ValueError):
        run_load(None, **kwargs)  # type: ignore[arg-type]  # checked before any use
