"""A process killed with SIGKILL mid-burst loses no report it had acknowledged.

A real subprocess opens reports one after another and prints each receipt code only
after ``open_case`` returned (the moment a worker would see it). The test kills it with
SIGKILL in the middle of the burst, then checks every printed code against the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from grievance.db import make_engine, make_session_factory
from tests.grievance.support import TEST_KEY, build_service

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os, sys
    from grievance.codes import MIN_HASH_COST
    from grievance.crypto import Vault
    from grievance.db import make_engine, make_session_factory
    from grievance.service import GrievanceService, NewReport

    engine = make_engine(os.environ["WR_DB_URL"])
    service = GrievanceService(make_session_factory(engine),
                               Vault(bytes.fromhex(os.environ["WR_KEY"])),
                               code_hash_cost=MIN_HASH_COST)
    i = 0
    while True:
        opened = service.open_case(NewReport(
            category="wages", urgency="ongoing", account="report %d " % i + "x" * 2000,
            worker_ref="w%d" % i))
        # Printed only after the commit: this is the acknowledgement to the worker.
        sys.stdout.write("%d %s\\n" % (opened.case_id, opened.receipt_code))
        sys.stdout.flush()
        i += 1
    """
)


def test_sigkill_mid_burst_loses_no_acknowledged_report(db_url, engine, vault, clock):
    env = dict(os.environ, WR_DB_URL=db_url, WR_KEY=TEST_KEY.hex(), PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, text=True, cwd=ROOT,
    )
    acknowledged: list[tuple[int, str]] = []
    deadline = time.monotonic() + 120
    try:
        assert child.stdout is not None
        while len(acknowledged) < 60 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            case_id, code = line.split()
            acknowledged.append((int(case_id), code))
    finally:
        child.send_signal(signal.SIGKILL)
        # Whatever the pipe still holds was acknowledged before the kill, too.
        rest, errors = child.communicate(timeout=30)
    for line in rest.splitlines():
        if line.count(" ") == 1:
            case_id, code = line.split()
            acknowledged.append((int(case_id), code))
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 60, errors[-2000:]

    # A fresh engine, as after a restart.
    fresh = make_engine(db_url)
    try:
        if make_url(db_url).get_backend_name() == "sqlite":
            with fresh.connect() as conn:
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        service = build_service(make_session_factory(fresh), vault, clock)
        for case_id, code in acknowledged:
            assert service.status_by_code(code, user_ref=None).status == "new", case_id
        assert service.count_cases() >= len(acknowledged)
    finally:
        fresh.dispose()
