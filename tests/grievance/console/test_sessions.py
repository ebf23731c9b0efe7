"""Session cookies: signed, expiring when idle or old, and CSRF tokens bound to them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grievance.console.sessions import SessionCodec
from tests.grievance.support import FakeClock

SECRET = b"s" * 32


def test_round_trip_and_forgery():
    codec = SessionCodec(SECRET, clock=FakeClock())
    session = codec.new(7, epoch=2, totp_ok=True)
    cookie = codec.dumps(session)
    assert codec.loads(cookie) == session
    # Change a character inside the signature: the last base64 character may carry only
    # padding bits, so changing it does not always change the decoded signature.
    tampered = cookie[:-5] + ("A" if cookie[-5] != "A" else "B") + cookie[-4:]
    assert codec.loads(tampered) is None
    assert SessionCodec(b"t" * 32, clock=FakeClock()).loads(cookie) is None
    for junk in (None, "", "not a cookie", "e30.abc"):
        assert codec.loads(junk) is None
    assert codec.new().sid != codec.new().sid


def test_idle_timeout_and_maximum_age():
    clock = FakeClock()
    codec = SessionCodec(SECRET, idle_timeout=timedelta(minutes=30),
                         max_age=timedelta(hours=2), clock=clock)
    session = codec.new(1)
    clock.advance(minutes=29)
    assert codec.loads(codec.dumps(session)) is not None
    clock.advance(minutes=2)
    assert codec.loads(codec.dumps(session)) is None
    session = codec.new(1)
    for _ in range(4):
        clock.advance(minutes=29)
        session = codec.touch(session)
        assert codec.loads(codec.dumps(session)) is not None
    clock.advance(minutes=29)
    assert codec.loads(codec.dumps(codec.touch(session))) is None


def test_csrf_tokens_belong_to_one_session():
    codec = SessionCodec(SECRET, clock=FakeClock())
    a, b = codec.new(), codec.new()
    assert codec.check_csrf(a, codec.csrf_token(a))
    assert not codec.check_csrf(a, codec.csrf_token(b))
    assert not codec.check_csrf(a, "") and not codec.check_csrf(a, None)
    assert codec.csrf_token(a) != a.sid  # the cookie does not carry the token itself


def test_bad_settings_fail_fast():
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short")
    with pytest.raises(ValueError, match="idle_timeout"):
        SessionCodec(SECRET, idle_timeout=timedelta(hours=3), max_age=timedelta(hours=1))
