"""Signed session cookies with an idle timeout, and CSRF tokens bound to the session.

The cookie holds a small JSON payload signed with HMAC (itsdangerous): a random session
id, the moderator id once signed in, the account's session epoch, whether the TOTP step
was passed, when the session began and when it was last used. Nothing secret or personal
is in it. Every response re-signs it with a fresh "last used" time, so a session dies
``idle_timeout`` after its last request, and at the latest ``max_age`` after sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from grievance.db import utcnow

COOKIE_NAME = "wr_console"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """The decoded cookie.

    Attributes:
        sid: a random id; the CSRF token is derived from it.
        moderator_id: the signed-in moderator, or None before sign-in.
        epoch: the account's session epoch at sign-in.
        totp_ok: True once the TOTP step was passed in this session.
        issued: when the session began (epoch seconds).
        seen: when it was last used (epoch seconds).
    """

    sid: str
    moderator_id: int | None
    epoch: int
    totp_ok: bool
    issued: float
    seen: float

    @property
    def signed_in(self) -> bool:
        """True once the password step was passed."""
        return self.moderator_id is not None


class SessionCodec:
    """Makes, signs, reads and expires console sessions.

    Usage example::

        codec = SessionCodec(secret, idle_timeout=timedelta(minutes=30))
        session = codec.new()
        cookie = codec.dumps(session)
        assert codec.loads(cookie) == session
        token = codec.csrf_token(session)

    Args:
        secret: at least 32 bytes; from ``WORKRIGHT_CONSOLE_SECRET`` or derived from the
            master key, never a constant.
        idle_timeout: a session unused this long is over.
        max_age: a session is over this long after it began, used or not.
        clock: the current tz-aware time.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        idle_timeout: timedelta = timedelta(minutes=30),
        max_age: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if len(secret) < 32:
            raise ValueError(f"the console secret needs at least 32 bytes, got {len(secret)}")
        if idle_timeout <= timedelta(0) or max_age < idle_timeout:
            raise ValueError(
                f"need 0 < idle_timeout <= max_age, got {idle_timeout} and {max_age}"
            )
        self._serializer = URLSafeSerializer(secret, salt="workright.console.session")
        self._csrf_key = hmac.new(secret, b"workright.console.csrf", hashlib.sha256).digest()
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._clock = clock

    def _now(self) -> float:
        return self._clock().timestamp()

    def new(
        self, moderator_id: int | None = None, *, epoch: int = 0, totp_ok: bool = False
    ) -> ConsoleSession:
        """A fresh session with a new id (always a new one at sign-in and sign-out)."""
        now = self._now()
        return ConsoleSession(
            sid=secrets.token_urlsafe(18),
            moderator_id=moderator_id,
            epoch=epoch,
            totp_ok=totp_ok,
            issued=now,
            seen=now,
        )

    def touch(self, session: ConsoleSession) -> ConsoleSession:
        """The same session, last used now."""
        return replace(session, seen=self._now())

    def dumps(self, session: ConsoleSession) -> str:
        """The signed cookie value."""
        payload: dict[str, Any] = {
            "s": session.sid,
            "m": session.moderator_id,
            "e": session.epoch,
            "t": session.totp_ok,
            "i": session.issued,
            "l": session.seen,
        }
        return str(self._serializer.dumps(payload))

    def loads(self, value: str | None) -> ConsoleSession | None:
        """The session in a cookie; None if missing, forged, malformed or expired."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value)
            session = ConsoleSession(
                sid=str(data["s"]),
                moderator_id=None if data["m"] is None else int(data["m"]),
                epoch=int(data["e"]),
                totp_ok=bool(data["t"]),
                issued=float(data["i"]),
                seen=float(data["l"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        now = self._now()
        if now - session.seen > self.idle_timeout.total_seconds():
            return None
        if now - session.issued > self.max_age.total_seconds():
            return None
        return session

    def csrf_token(self, session: ConsoleSession) -> str:
        """The CSRF token for forms of this session."""
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session: ConsoleSession, token: str | None) -> bool:
        """True if ``token`` is this session's CSRF token (constant-time comparison)."""
        return bool(token) and hmac.compare_digest(self.csrf_token(session), str(token))
