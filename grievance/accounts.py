"""Moderator accounts: argon2 passwords, TOTP two-factor, login throttling, console settings.

The console and the ``workright moderator`` commands use this module, never the tables.
Passwords are hashed with argon2id; TOTP secrets are encrypted with the :class:`Vault`.
Failed sign-ins are counted per account name and per client address under keyed hashes,
so the table says nothing about who tried. Every change is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from grievance import models as m
from grievance._core import add_audit
from grievance.console_models import ConsoleSetting, LoginFailure, ModeratorSecurity
from grievance.crypto import Vault
from grievance.db import as_utc, transaction, utcnow
from grievance.errors import GrievanceError, ModeratorNotFound
from grievance.service import GrievanceService

if TYPE_CHECKING:
    from argon2 import PasswordHasher

logger = logging.getLogger(__name__)

#: Shortest password a moderator may choose.
MIN_PASSWORD_CHARS = 12
#: TOTP: 30-second steps, 6 digits, one step of clock drift either way.
TOTP_STEP_SECONDS = 30
TOTP_DRIFT_STEPS = 1
REQUIRE_2FA = "require_2fa"


class InvalidCredentials(GrievanceError):
    """Wrong name, password or code; the message never says which."""


class LoginThrottled(GrievanceError):
    """Too many failed sign-ins for this account or from this address; wait and retry."""


@dataclass(frozen=True, slots=True)
class ModeratorAccount:
    """A moderator as the console sees them (no hashes, no secrets).

    Attributes:
        moderator_id: the id cases are assigned to.
        name: the sign-in name.
        role: ``moderator`` or ``admin``.
        active: False once disabled; a disabled account cannot sign in.
        totp_enabled: True once two-factor enrolment was confirmed.
        must_change_password: True while the one-time password is in use.
        session_epoch: sessions signed with another epoch are void.
        created_at: when the account was made.
        last_login_at: the last successful sign-in, if any.
    """

    moderator_id: int
    name: str
    role: str
    active: bool
    totp_enabled: bool
    must_change_password: bool
    session_epoch: int
    created_at: datetime
    last_login_at: datetime | None

    @property
    def is_admin(self) -> bool:
        """True for the ``admin`` role."""
        return self.role == "admin"


def _password_hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "moderator accounts need argon2-cffi: reinstall workright (`pip install -e .`)"
        ) from exc
    return PasswordHasher()


def new_one_time_password() -> str:
    """A random password to hand over once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def totp_code(secret: str, step: int) -> str:
    """The 6-digit TOTP code of ``secret`` for time step ``step`` (RFC 6238)."""
    import pyotp

    return str(pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).at(step * TOTP_STEP_SECONDS))


class ModeratorAccounts:
    """Creates moderators and checks their passwords and codes.

    Usage example::

        accounts = ModeratorAccounts(session_factory, vault, service)
        moderator_id, password = accounts.create("lin", role="admin")
        account = accounts.authenticate("lin", password, client="203.0.113.9")
        accounts.change_password(account.moderator_id, password, "a long new passphrase")

    Args:
        session_factory: from :func:`grievance.db.make_session_factory`.
        vault: encrypts TOTP secrets and keys the throttle hashes.
        service: creates the moderator rows (it owns that table).
        clock: the current tz-aware time.
        hasher: an argon2 ``PasswordHasher`` (default parameters when None).
        account_limit: failed sign-ins per account name within ``window``.
        client_limit: failed sign-ins per client address within ``window``.
        window: the throttling window.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        vault: Vault,
        service: GrievanceService,
        clock: Callable[[], datetime] = utcnow,
        *,
        hasher: PasswordHasher | None = None,
        account_limit: int = 5,
        client_limit: int = 20,
        window: timedelta = timedelta(minutes=15),
    ) -> None:
        if account_limit < 1 or client_limit < 1:
            raise ValueError(
                f"throttle limits must be >= 1, got {account_limit} and {client_limit}"
            )
        if window <= timedelta(0):
            raise ValueError(f"window must be positive, got {window}")
        self._sessions = session_factory
        self._vault = vault
        self._service = service
        self._clock = clock
        self._hasher = hasher or _password_hasher()
        self._throttle_key = vault.subkey("console-login-throttle")
        self._account_limit = account_limit
        self._client_limit = client_limit
        self._window = window
        # Verified against when the name is unknown, so that both cases take as long.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    # -- plumbing ---------------------------------------------------------------------

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _tx(self, what: str) -> AbstractContextManager[Session]:
        return transaction(self._sessions, what)

    def _audit(
        self,
        session: Session,
        action: str,
        moderator_id: int | None,
        *,
        case_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        add_audit(session, action, moderator_id=moderator_id, case_id=case_id, at=self._now(),
                  details=details)

    @staticmethod
    def _security(session: Session, moderator_id: int) -> ModeratorSecurity:
        row = session.get(ModeratorSecurity, moderator_id)
        if row is None:
            row = ModeratorSecurity(
                moderator_id=moderator_id,
                totp_enabled=False,
                must_change_password=False,
                session_epoch=0,
            )
            session.add(row)
        return row

    @staticmethod
    def _row(session: Session, moderator_id: int) -> m.Moderator:
        row = session.get(m.Moderator, moderator_id)
        if row is None:
            raise ModeratorNotFound(f"no moderator with id {moderator_id}")
        return row

    @staticmethod
    def _view(row: m.Moderator, sec: ModeratorSecurity | None) -> ModeratorAccount:
        return ModeratorAccount(
            moderator_id=row.id,
            name=row.name,
            role=row.role,
            active=row.active,
            totp_enabled=bool(sec and sec.totp_enabled),
            must_change_password=bool(sec and sec.must_change_password),
            session_epoch=sec.session_epoch if sec else 0,
            created_at=as_utc(row.created_at),
            last_login_at=as_utc(sec.last_login_at) if sec and sec.last_login_at else None,
        )

    def _key(self, kind: str, value: str) -> str:
        mac = hmac.new(self._throttle_key, f"{kind}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def _account_key(self, name: str) -> str:
        return self._key("account", name.strip().casefold())

    def _client_key(self, client: str) -> str:
        return self._key("client", client)

    # -- reading ----------------------------------------------------------------------

    def get(self, moderator_id: int) -> ModeratorAccount | None:
        """The account with this id, or None."""
        with self._tx("read a moderator") as session:
            row = session.get(m.Moderator, moderator_id)
            if row is None:
                return None
            return self._view(row, session.get(ModeratorSecurity, moderator_id))

    def by_name(self, name: str) -> ModeratorAccount | None:
        """The account with this sign-in name, or None."""
        with self._tx("read a moderator") as session:
            row = session.execute(
                select(m.Moderator).where(m.Moderator.name == name.strip())
            ).scalar_one_or_none()
            if row is None:
                return None
            return self._view(row, session.get(ModeratorSecurity, row.id))

    def list_accounts(self) -> list[ModeratorAccount]:
        """Every account, active ones first, then by name."""
        with self._tx("list moderators") as session:
            rows = session.execute(
                select(m.Moderator, ModeratorSecurity)
                .outerjoin(ModeratorSecurity, ModeratorSecurity.moderator_id == m.Moderator.id)
                .order_by(m.Moderator.active.desc(), m.Moderator.name)
            ).all()
            return [self._view(row, sec) for row, sec in rows]

    # -- settings ---------------------------------------------------------------------

    def require_2fa(self) -> bool:
        """True when an admin requires two-factor sign-in for everyone."""
        with self._tx("read the console settings") as session:
            row = session.get(ConsoleSetting, REQUIRE_2FA)
            return row is not None and row.value == "1"

    def set_require_2fa(self, required: bool, *, actor_id: int | None) -> None:
        """Require (or stop requiring) two-factor sign-in; ``actor_id`` None is the CLI."""
        with self._tx("change the console settings") as session:
            row = session.get(ConsoleSetting, REQUIRE_2FA)
            value = "1" if required else "0"
            if row is None:
                session.add(ConsoleSetting(name=REQUIRE_2FA, value=value, updated_at=self._now()))
            else:
                row.value, row.updated_at = value, self._now()
            self._audit(session, "setting_changed", actor_id, details={REQUIRE_2FA: required})

    # -- accounts ---------------------------------------------------------------------

    def create(self, name: str, *, role: str, actor_id: int | None = None) -> tuple[int, str]:
        """Create an account with a one-time password that must be changed at first sign-in.

        Returns:
            The new moderator id and the one-time password (shown once, never stored).

        Raises:
            ValueError: empty or taken name, unknown role.
        """
        password = new_one_time_password()
        moderator_id = self._service.create_moderator(
            name, role=role, password_hash=self._hasher.hash(password)
        )
        with self._tx("set up the new account") as session:
            sec = self._security(session, moderator_id)
            sec.must_change_password = True
            sec.updated_at = self._now()
            if actor_id is not None:
                self._audit(
                    session, "moderator_added", actor_id, details={"moderator": moderator_id}
                )
        return moderator_id, password

    def set_active(self, moderator_id: int, active: bool, *, actor_id: int | None) -> None:
        """Disable (or re-enable) an account; disabling ends its sessions.

        Raises:
            ModeratorNotFound: no such account.
            ValueError: an admin tried to disable their own account.
        """
        if actor_id == moderator_id and not active:
            raise ValueError("an admin cannot disable their own account")
        with self._tx("change an account") as session:
            row = self._row(session, moderator_id)
            row.active = active
            sec = self._security(session, moderator_id)
            sec.session_epoch += 1
            sec.updated_at = self._now()
            action = "moderator_enabled" if active else "moderator_disabled"
            self._audit(session, action, actor_id, details={"moderator": moderator_id})

    def reset_password(self, moderator_id: int, *, actor_id: int | None) -> str:
        """Give an account a new one-time password and end its sessions.

        Returns:
            The one-time password.

        Raises:
            ModeratorNotFound: no such account.
        """
        password = new_one_time_password()
        hashed = self._hasher.hash(password)
        with self._tx("reset a password") as session:
            row = self._row(session, moderator_id)
            row.password_hash = hashed
            sec = self._security(session, moderator_id)
            sec.must_change_password = True
            sec.session_epoch += 1
            sec.updated_at = self._now()
            self._audit(session, "password_reset", actor_id, details={"moderator": moderator_id})
        return password

    def change_password(self, moderator_id: int, old: str, new: str) -> None:
        """Change one's own password (after the one-time one, or at will).

        Raises:
            InvalidCredentials: ``old`` is wrong.
            ValueError: ``new`` is too short or the same as ``old``.
            ModeratorNotFound: no such account.
        """
        if len(new) < MIN_PASSWORD_CHARS:
            raise ValueError(f"the new password needs at least {MIN_PASSWORD_CHARS} characters")
        if new == old:
            raise ValueError("the new password must differ from the old one")
        with self._tx("read the account") as session:
            stored = self._row(session, moderator_id).password_hash
        if not self._verify(stored, old):
            raise InvalidCredentials("the current password is wrong")
        hashed = self._hasher.hash(new)
        with self._tx("change the password") as session:
            row = self._row(session, moderator_id)
            row.password_hash = hashed
            sec = self._security(session, moderator_id)
            sec.must_change_password = False
            sec.password_changed_at = sec.updated_at = self._now()
            self._audit(session, "password_changed", moderator_id)

    def sign_out(self, moderator_id: int) -> None:
        """End every session of this account (a copied cookie is void too) and audit it.

        Raises:
            ModeratorNotFound: no such account.
        """
        with self._tx("sign out") as session:
            self._row(session, moderator_id)
            sec = self._security(session, moderator_id)
            sec.session_epoch += 1
            sec.updated_at = self._now()
            self._audit(session, "logout", moderator_id)

    # -- signing in -------------------------------------------------------------------

    def _verify(self, stored: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    def _check_throttle(self, session: Session, keys: list[tuple[str, int]]) -> bool:
        since = self._now() - self._window
        for key, limit in keys:
            failures = session.execute(
                select(func.count(LoginFailure.id)).where(
                    LoginFailure.key == key, LoginFailure.at > since
                )
            ).scalar_one()
            if failures >= limit:
                return False
        return True

    def _fail(self, keys: list[str], moderator_id: int | None, reason: str) -> None:
        with self._tx("record a failed sign-in") as session:
            now = self._now()
            for key in keys:
                session.add(LoginFailure(key=key, at=now))
            # Old failures are no longer counted; keep the table small.
            session.execute(delete(LoginFailure).where(LoginFailure.at < now - self._window))
            self._audit(session, "login_failed", moderator_id, details={"reason": reason})

    def authenticate(self, name: str, password: str, *, client: str) -> ModeratorAccount:
        """Check a name and password (the first sign-in step).

        Args:
            name: the sign-in name.
            password: the password as typed.
            client: the client's address, for per-address throttling.

        Returns:
            The account; the caller still asks for the TOTP code when it is enabled.

        Raises:
            LoginThrottled: too many failures for this name or from this address; the
                password was not even checked.
            InvalidCredentials: unknown name, wrong password or a disabled account.
        """
        account_key, client_key = self._account_key(name), self._client_key(client)
        with self._tx("check the sign-in throttle") as session:
            allowed = self._check_throttle(
                session,
                [(account_key, self._account_limit), (client_key, self._client_limit)],
            )
            row = session.execute(
                select(m.Moderator).where(m.Moderator.name == name.strip())
            ).scalar_one_or_none()
            stored = row.password_hash if row is not None else self._dummy_hash
            moderator_id = row.id if row is not None else None
            active = row is not None and row.active
        if not allowed:
            with self._tx("record a throttled sign-in") as session:
                self._audit(session, "login_failed", moderator_id, details={"reason": "throttled"})
            raise LoginThrottled("too many failed sign-ins; wait a few minutes")
        ok = self._verify(stored, password)
        if not ok or not active or moderator_id is None:
            self._fail([account_key, client_key], moderator_id, "password")
            raise InvalidCredentials("wrong name or password")
        with self._tx("sign in") as session:
            row = self._row(session, moderator_id)
            if self._hasher.check_needs_rehash(row.password_hash):
                row.password_hash = self._hasher.hash(password)
            sec = self._security(session, moderator_id)
            if not sec.totp_enabled:
                sec.last_login_at = self._now()
                self._audit(session, "login", moderator_id, details={"factors": 1})
            # A success clears this account's count, not the address's.
            session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
            session.flush()
            return self._view(row, sec)

    def _match_step(self, secret: str, code: str, last_step: int | None) -> int | None:
        code = "".join(code.split())
        if not (code.isdigit() and len(code) == 6):
            return None
        now_step = int(self._now().timestamp()) // TOTP_STEP_SECONDS
        for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
            if hmac.compare_digest(totp_code(secret, step), code):
                # A code already used (or an older one) is refused: no replay.
                return step if last_step is None or step > last_step else None
        return None

    def verify_totp(self, moderator_id: int, code: str, *, client: str) -> None:
        """Check the second sign-in step, throttled like the password.

        Raises:
            LoginThrottled: too many failures for this account or address.
            InvalidCredentials: wrong, reused or malformed code, or 2FA not enabled.
            ModeratorNotFound: no such account.
        """
        client_key = self._client_key(client)
        with self._tx("check the sign-in code") as session:
            row = self._row(session, moderator_id)
            account_key = self._account_key(row.name)
            allowed = self._check_throttle(
                session,
                [(account_key, self._account_limit), (client_key, self._client_limit)],
            )
            sec = session.get(ModeratorSecurity, moderator_id)
            enabled = bool(sec and sec.totp_enabled and row.totp_secret_enc and row.active)
            secret = self._vault.decrypt_optional(row.totp_secret_enc, context="moderator.totp")
            last_step = sec.totp_last_step if sec else None
        if not allowed:
            with self._tx("record a throttled sign-in") as session:
                self._audit(session, "login_failed", moderator_id, details={"reason": "throttled"})
            raise LoginThrottled("too many failed sign-ins; wait a few minutes")
        step = self._match_step(secret, code, last_step) if enabled and secret else None
        if step is None:
            self._fail([account_key, client_key], moderator_id, "totp")
            raise InvalidCredentials("wrong code")
        with self._tx("sign in") as session:
            sec = self._security(session, moderator_id)
            sec.totp_last_step = step
            sec.last_login_at = self._now()
            session.execute(delete(LoginFailure).where(LoginFailure.key == account_key))
            self._audit(session, "login", moderator_id, details={"factors": 2})

    # -- two-factor enrolment ---------------------------------------------------------

    def begin_totp(self, moderator_id: int) -> str:
        """The pending TOTP secret of an account that has no confirmed one (made if needed).

        Raises:
            ValueError: two-factor sign-in is already enabled (an admin must reset it).
            ModeratorNotFound: no such account.
        """
        import pyotp

        with self._tx("start two-factor enrolment") as session:
            row = self._row(session, moderator_id)
            sec = self._security(session, moderator_id)
            if sec.totp_enabled:
                raise ValueError("two-factor sign-in is already enabled")
            secret = self._vault.decrypt_optional(row.totp_secret_enc, context="moderator.totp")
            if secret is None:
                secret = pyotp.random_base32()
                row.totp_secret_enc = self._vault.encrypt(secret, context="moderator.totp")
            return secret

    def confirm_totp(self, moderator_id: int, code: str) -> None:
        """Turn two-factor sign-in on once the moderator types a code from the new secret.

        Raises:
            InvalidCredentials: the code does not match the pending secret.
            ValueError: no enrolment is pending.
            ModeratorNotFound: no such account.
        """
        with self._tx("confirm two-factor enrolment") as session:
            row = self._row(session, moderator_id)
            sec = self._security(session, moderator_id)
            secret = self._vault.decrypt_optional(row.totp_secret_enc, context="moderator.totp")
            if sec.totp_enabled or secret is None:
                raise ValueError("no two-factor enrolment is pending")
            step = self._match_step(secret, code, None)
            if step is None:
                raise InvalidCredentials("wrong code")
            sec.totp_enabled = True
            sec.totp_last_step = step
            sec.updated_at = self._now()
            self._audit(session, "totp_enrolled", moderator_id)

    def reset_totp(self, moderator_id: int, *, actor_id: int | None) -> None:
        """Remove an account's TOTP secret (a lost phone); its sessions end.

        Raises:
            ModeratorNotFound: no such account.
        """
        with self._tx("reset two-factor sign-in") as session:
            row = self._row(session, moderator_id)
            row.totp_secret_enc = None
            sec = self._security(session, moderator_id)
            sec.totp_enabled = False
            sec.totp_last_step = None
            sec.session_epoch += 1
            sec.updated_at = self._now()
            self._audit(session, "totp_reset", actor_id, details={"moderator": moderator_id})

    # -- the audit log ----------------------------------------------------------------

    def audit(
        self,
        action: str,
        moderator_id: int | None,
        *,
        case_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write a console action that changes nothing else (sign-out, a page viewed).

        ``details`` must hold no free text: ids, counts, filter values.
        """
        if not action or len(action) > 32:
            raise ValueError(f"action must be 1..32 characters, got {action!r}")
        with self._tx("write the audit log") as session:
            self._audit(session, action, moderator_id, case_id=case_id, details=details)

    def audit_entries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit entries (for the admin page), newest first."""
        with self._tx("read the audit log") as session:
            rows = session.execute(
                select(m.AuditLog).order_by(m.AuditLog.id.desc()).limit(limit)
            ).scalars()
            return [
                {
                    "at": as_utc(row.created_at),
                    "moderator_id": row.moderator_id,
                    "action": row.action,
                    "case_id": row.case_id,
                    "details": json.loads(row.details) if row.details else {},
                }
                for row in rows
            ]
