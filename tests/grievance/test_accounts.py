"""Moderator accounts on SQLite and PostgreSQL: hashes, throttling, TOTP, settings, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from grievance import models as m
from grievance.accounts import (
    MIN_PASSWORD_CHARS,
    InvalidCredentials,
    LoginThrottled,
    ModeratorAccounts,
    totp_code,
)
from grievance.console_models import LoginFailure
from grievance.errors import ModeratorNotFound
from tests.grievance.console.conftest import cheap_hasher
from tests.grievance.support import FakeClock

PASSWORD = "a sufficiently long password"


@pytest.fixture
def accounts(session_factory, vault, service, clock):
    return ModeratorAccounts(session_factory, vault, service, clock, hasher=cheap_hasher())


def _ready(accounts: ModeratorAccounts, name: str = "lin", role: str = "moderator") -> int:
    moderator_id, one_time = accounts.create(name, role=role)
    accounts.change_password(moderator_id, one_time, PASSWORD)
    return moderator_id


def _code(accounts: ModeratorAccounts, secret: str, clock: FakeClock, ahead: int = 0) -> str:
    return totp_code(secret, int(clock().timestamp()) // 30 + ahead)


def test_passwords_are_argon2id_hashes(accounts, session_factory):
    moderator_id, one_time = accounts.create("lin", role="admin")
    with session_factory() as session:
        stored = session.get(m.Moderator, moderator_id).password_hash
    assert stored.startswith("$argon2id$") and one_time not in stored
    account = accounts.get(moderator_id)
    assert account.must_change_password and account.is_admin and not account.totp_enabled


def test_authenticate(accounts, clock):
    moderator_id = _ready(accounts)
    assert accounts.authenticate("lin", PASSWORD, client="10.0.0.1").moderator_id == moderator_id
    assert accounts.get(moderator_id).last_login_at == clock()
    for name, password in (("lin", "wrong"), ("nobody", PASSWORD), ("", "")):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(name, password, client="10.0.0.1")


def test_disabled_accounts_cannot_sign_in(accounts):
    moderator_id = _ready(accounts)
    accounts.set_active(moderator_id, False, actor_id=None)
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("lin", PASSWORD, client="10.0.0.1")
    accounts.set_active(moderator_id, True, actor_id=None)
    assert accounts.authenticate("lin", PASSWORD, client="10.0.0.1")


def test_throttle_per_account_and_per_client(session_factory, vault, service, clock):
    accounts = ModeratorAccounts(session_factory, vault, service, clock, hasher=cheap_hasher(),
                                 account_limit=3, client_limit=5)
    _ready(accounts)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate("LIN ", "wrong", client="10.0.0.1")  # names fold case
    with pytest.raises(LoginThrottled):
        accounts.authenticate("lin", PASSWORD, client="10.0.0.2")
    clock.advance(minutes=16)
    accounts.authenticate("lin", PASSWORD, client="10.0.0.2")
    for i in range(5):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(f"x{i}", "wrong", client="10.0.0.3")
    with pytest.raises(LoginThrottled):
        accounts.authenticate("lin", PASSWORD, client="10.0.0.3")
    accounts.authenticate("lin", PASSWORD, client="10.0.0.4")


def test_throttle_rows_hold_no_names_or_addresses(accounts, session_factory):
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("someone", "wrong", client="203.0.113.7")
    with session_factory() as session:
        keys = list(session.execute(select(LoginFailure.key)).scalars())
    assert len(keys) == 2 and all(len(k) == 64 for k in keys)
    assert not any("someone" in k or "203.0.113" in k for k in keys)


def test_totp_enrolment_and_verification(accounts, clock, session_factory):
    moderator_id = _ready(accounts)
    secret = accounts.begin_totp(moderator_id)
    assert accounts.begin_totp(moderator_id) == secret  # the pending secret is kept
    with session_factory() as session:
        stored = session.get(m.Moderator, moderator_id).totp_secret_enc
    assert secret not in stored  # encrypted at rest
    with pytest.raises(InvalidCredentials):
        accounts.confirm_totp(moderator_id, "000000")
    accounts.confirm_totp(moderator_id, _code(accounts, secret, clock))
    assert accounts.get(moderator_id).totp_enabled
    with pytest.raises(ValueError, match="already enabled"):
        accounts.begin_totp(moderator_id)
    # The enrolment code cannot be replayed for sign-in; the next step's can.
    with pytest.raises(InvalidCredentials):
        accounts.verify_totp(moderator_id, _code(accounts, secret, clock), client="c")
    clock.advance(seconds=30)
    accounts.verify_totp(moderator_id, _code(accounts, secret, clock), client="c")
    # One step of drift either way is accepted, two are not.
    clock.advance(seconds=60)
    accounts.verify_totp(moderator_id, _code(accounts, secret, clock, ahead=1), client="c")
    clock.advance(seconds=90)
    with pytest.raises(InvalidCredentials):
        accounts.verify_totp(moderator_id, _code(accounts, secret, clock, ahead=-2), client="c")
    for bad in ("", "12345", "abcdef", "1234567"):
        with pytest.raises(InvalidCredentials):
            accounts.verify_totp(moderator_id, bad, client="c")


def test_totp_is_refused_when_not_enabled(accounts, clock):
    moderator_id = _ready(accounts)
    secret = accounts.begin_totp(moderator_id)  # pending, not confirmed
    with pytest.raises(InvalidCredentials):
        accounts.verify_totp(moderator_id, _code(accounts, secret, clock), client="c")


def test_reset_totp_and_password_end_sessions(accounts, clock):
    moderator_id = _ready(accounts)
    secret = accounts.begin_totp(moderator_id)
    accounts.confirm_totp(moderator_id, _code(accounts, secret, clock))
    epoch = accounts.get(moderator_id).session_epoch
    accounts.reset_totp(moderator_id, actor_id=None)
    after = accounts.get(moderator_id)
    assert not after.totp_enabled and after.session_epoch == epoch + 1
    assert accounts.begin_totp(moderator_id) != secret
    password = accounts.reset_password(moderator_id, actor_id=None)
    assert accounts.get(moderator_id).must_change_password
    assert accounts.authenticate("lin", password, client="c")
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("lin", PASSWORD, client="c")


def test_password_rules(accounts):
    moderator_id, one_time = accounts.create("lin", role="moderator")
    with pytest.raises(ValueError, match=str(MIN_PASSWORD_CHARS)):
        accounts.change_password(moderator_id, one_time, "short")
    with pytest.raises(ValueError, match="differ"):
        accounts.change_password(moderator_id, one_time, one_time)
    with pytest.raises(InvalidCredentials):
        accounts.change_password(moderator_id, "not it", PASSWORD)
    accounts.change_password(moderator_id, one_time, PASSWORD)
    assert not accounts.get(moderator_id).must_change_password


def test_require_2fa_setting_and_self_disable(accounts):
    admin = _ready(accounts, "boss", "admin")
    assert not accounts.require_2fa()
    accounts.set_require_2fa(True, actor_id=admin)
    assert accounts.require_2fa()
    accounts.set_require_2fa(False, actor_id=None)
    assert not accounts.require_2fa()
    with pytest.raises(ValueError, match="own account"):
        accounts.set_active(admin, False, actor_id=admin)
    with pytest.raises(ModeratorNotFound):
        accounts.set_active(999, False, actor_id=admin)


def test_every_change_is_audited(accounts, clock):
    admin = _ready(accounts, "boss", "admin")
    other, _ = accounts.create("lin", role="moderator", actor_id=admin)
    accounts.authenticate("boss", PASSWORD, client="c")
    with pytest.raises(InvalidCredentials):
        accounts.authenticate("boss", "wrong", client="c")
    accounts.set_require_2fa(True, actor_id=admin)
    accounts.set_active(other, False, actor_id=admin)
    accounts.reset_password(other, actor_id=admin)
    accounts.sign_out(admin)
    actions = [e["action"] for e in reversed(accounts.audit_entries(50))]
    assert actions == [
        "moderator_created", "password_changed", "moderator_created", "moderator_added",
        "login", "login_failed", "setting_changed", "moderator_disabled", "password_reset",
        "logout",
    ]
    with pytest.raises(ValueError):
        accounts.audit("x" * 33, admin)


def test_list_accounts(accounts):
    _ready(accounts, "b-mod")
    a = _ready(accounts, "a-mod")
    accounts.set_active(a, False, actor_id=None)
    assert [x.name for x in accounts.list_accounts()] == ["b-mod", "a-mod"]
    assert accounts.by_name(" b-mod ").name == "b-mod" and accounts.get(12345) is None
