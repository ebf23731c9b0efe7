"""Encryption at rest: round trip, tamper detection, the key file, derived keys."""

from __future__ import annotations

import base64
import stat

import pytest

from grievance.crypto import KeyError_, Vault, load_master_key


def test_round_trip_unicode_and_large():
    vault = Vault(bytes(32))
    for text in ["", "老板三个月没发工资", "ကျေးဇူး", "x" * 100_000]:
        assert vault.decrypt(vault.encrypt(text, context="c"), context="c") == text


def test_ciphertext_is_randomised_and_hides_text():
    vault = Vault(bytes(32))
    a, b = vault.encrypt("same", context="c"), vault.encrypt("same", context="c")
    assert a != b and "same" not in a


def test_tampering_is_detected():
    vault = Vault(bytes(32))
    token = vault.encrypt("pay me", context="case.account")
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 1
    tampered = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(KeyError_, match="tampered"):
        vault.decrypt(tampered, context="case.account")


def test_context_binds_ciphertext_to_its_column():
    vault = Vault(bytes(32))
    token = vault.encrypt("123456789", context="chat_id")
    with pytest.raises(KeyError_):
        vault.decrypt(token, context="case.account")


def test_wrong_key_is_detected():
    token = Vault(bytes(32)).encrypt("x")
    with pytest.raises(KeyError_):
        Vault(b"\x01" * 32).decrypt(token)


def test_key_file_is_created_0600_and_reused(tmp_path):
    path = tmp_path / "keys" / "secret.key"
    key = load_master_key(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert load_master_key(None, path) == key


def test_environment_key_wins_and_bad_keys_fail_fast(tmp_path):
    env = base64.urlsafe_b64encode(b"k" * 32).decode()
    assert load_master_key(env, tmp_path / "unused.key") == b"k" * 32
    assert not (tmp_path / "unused.key").exists()
    with pytest.raises(KeyError_, match="32 bytes, got 5"):
        load_master_key(base64.urlsafe_b64encode(b"short").decode(), tmp_path / "x")


def test_subkeys_are_independent_and_stable():
    vault = Vault(bytes(32))
    a, b = vault.subkey("receipt-code"), vault.subkey("console-session")
    assert a != b and len(a) == 32
    assert Vault(bytes(32)).subkey("receipt-code") == a
    with pytest.raises(ValueError, match="non-empty"):
        vault.subkey("")


def test_pseudonym_is_stable_and_not_the_id():
    vault = Vault(bytes(32))
    ref = vault.pseudonym("telegram", "123456")
    assert ref == vault.pseudonym("telegram", "123456")
    assert ref != vault.pseudonym("wechat", "123456")
    assert "123456" not in ref and len(ref) == 32
