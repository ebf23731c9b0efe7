"""Encryption at rest and pseudonyms, from one master key.

The master key (32 bytes, urlsafe base64) comes from ``WORKRIGHT_SECRET_KEY`` or from a key
file created with mode 0600 on first run. Two sub-keys are derived with HKDF: one for
AES-GCM encryption of free text and native chat ids, one for HMAC pseudonyms of workers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from grievance.errors import GrievanceError

_VERSION = b"v1"


class KeyError_(GrievanceError):  # noqa: N801 - avoid shadowing the builtin KeyError
    """The master key is missing, malformed or does not decrypt the data."""


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def load_master_key(env_value: str | None, key_file: Path) -> bytes:
    """The master key from the environment value, or the key file (created if absent).

    Args:
        env_value: ``WORKRIGHT_SECRET_KEY`` if set (urlsafe base64 of 32 bytes).
        key_file: where the key lives when the environment gives none.

    Raises:
        KeyError_: if the value or the file holds something that is not a 32-byte key.
    """
    if env_value:
        return _decode_key(env_value.strip(), "WORKRIGHT_SECRET_KEY")
    if key_file.exists():
        return _decode_key(key_file.read_text().strip(), str(key_file))
    key_file.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # O_EXCL: two processes starting at once must not write two different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _decode_key(key_file.read_text().strip(), str(key_file))
    with os.fdopen(fd, "w") as handle:
        handle.write(encoded + "\n")
    return _decode_key(encoded, str(key_file))


def _decode_key(value: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value)
    except ValueError as exc:
        raise KeyError_(f"{where}: not urlsafe base64") from exc
    if len(raw) != 32:
        raise KeyError_(f"{where}: the key must be 32 bytes, got {len(raw)}")
    return raw


class Vault:
    """Encrypts free text (AES-256-GCM) and derives worker pseudonyms (HMAC-SHA256).

    Usage example::

        vault = Vault(load_master_key(None, Path("var/secret.key")))
        token = vault.encrypt("what happened ...")
        assert vault.decrypt(token) == "what happened ..."
        ref = vault.pseudonym("telegram", "123456")   # stable, not reversible
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise KeyError_(f"the master key must be 32 bytes, got {len(master_key)}")
        self._aead = AESGCM(_derive(master_key, b"workright/encrypt"))
        self._hmac_key = _derive(master_key, b"workright/pseudonym")
        self._master = master_key

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt ``plaintext``; ``context`` (e.g. a column name) is authenticated too."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())
        return (_VERSION + b"." + base64.urlsafe_b64encode(nonce + sealed)).decode("ascii")

    def decrypt(self, token: str, *, context: str = "") -> str:
        """Decrypt a value made by :meth:`encrypt` with the same ``context``.

        Raises:
            KeyError_: if the token was made with another key or was tampered with.
        """
        version, _, body = token.encode("ascii").partition(b".")
        if version != _VERSION:
            raise KeyError_(f"unknown ciphertext version {version!r}")
        raw = base64.urlsafe_b64decode(body)
        try:
            plain = self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag as exc:
            raise KeyError_("ciphertext does not match the key (wrong key or tampered)") from exc
        return plain.decode("utf-8")

    def encrypt_optional(self, plaintext: str | None, *, context: str = "") -> str | None:
        """:meth:`encrypt`, passing ``None`` through."""
        return None if plaintext is None else self.encrypt(plaintext, context=context)

    def decrypt_optional(self, token: str | None, *, context: str = "") -> str | None:
        """:meth:`decrypt`, passing ``None`` through."""
        return None if token is None else self.decrypt(token, context=context)

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. ``"receipt-code"``), derived with HKDF.

        Keys for different purposes are independent; none reveals the master key.
        """
        if not purpose:
            raise ValueError("purpose must be a non-empty string")
        return _derive(self._master, b"workright/sub/" + purpose.encode())

    def pseudonym(self, channel: str, native_id: str) -> str:
        """The worker's pseudonym: ``HMAC(secret, channel + native id)``, 32 hex chars."""
        mac = hmac.new(self._hmac_key, f"{channel}\x00{native_id}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]


def open_vault(secret_key: str | None, key_file: Path) -> Vault:
    """The vault for a deployment: the master key from ``WORKRIGHT_SECRET_KEY``'s value, or
    from ``key_file`` (created 0600 on first run)."""
    return Vault(load_master_key(secret_key, key_file))
