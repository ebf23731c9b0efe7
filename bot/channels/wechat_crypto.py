"""WeChat Official Account message security: signatures and the safe-mode AES envelope.

A small module on ``cryptography`` rather than ``wechatpy``: wechatpy 1.8.18 (the current
release) parses XML with ``xmltodict`` instead of ``defusedxml``, talks to the API with
synchronous ``requests`` and no single-flight token refresh, and would add five
dependencies (``requests``, ``six``, ``xmltodict``, ``optionaldict``, ``python-dateutil``)
for about a hundred lines of cryptography. The scheme implemented here is Tencent's
``WXBizMsgCrypt`` one, checked in the tests against the vector of its official sample:

- ``signature`` = SHA-1 of the sorted, concatenated token, timestamp and nonce;
- ``msg_signature`` = SHA-1 of the sorted token, timestamp, nonce and ``Encrypt`` value;
- ``Encrypt`` = base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32 bytes of
  16 random bytes + 4-byte big-endian length + message + app id)), where
  key = base64decode(EncodingAESKey + "=").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

#: WeChat pads to 32 bytes, not to the AES block size of 16.
PAD_BLOCK = 32
_RANDOM_PREFIX = 16


class WeChatCryptoError(ValueError):
    """A message failed a signature, decryption or app-id check (the request is refused)."""


class SignatureError(WeChatCryptoError):
    """``signature`` or ``msg_signature`` does not match."""


class DecryptError(WeChatCryptoError):
    """The ``Encrypt`` value is not valid base64, AES or PKCS#7, or its app id is not ours."""


def sign(token: str, *parts: str) -> str:
    """The SHA-1 signature of ``token`` and ``parts``, sorted and concatenated.

    Args:
        token: the token configured on the account's server settings page.
        parts: timestamp and nonce (and, for ``msg_signature``, the ``Encrypt`` value).

    Returns:
        40 lowercase hex digits.
    """
    joined = "".join(sorted((token, *parts)))
    return hashlib.sha1(joined.encode("utf-8"), usedforsecurity=False).hexdigest()


def check_signature(token: str, signature: str, *parts: str) -> bool:
    """True when ``signature`` is :func:`sign` of ``token`` and ``parts`` (constant time)."""
    expected = sign(token, *parts)
    return hmac.compare_digest(expected.encode(), signature.lower().encode())


def pkcs7_pad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    """PKCS#7 padding to a multiple of ``block`` bytes (always adds 1..block bytes)."""
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def pkcs7_unpad(data: bytes, block: int = PAD_BLOCK) -> bytes:
    """Remove PKCS#7 padding.

    Raises:
        DecryptError: the padding is not 1..block copies of its length.
    """
    if not data or len(data) % 16:
        raise DecryptError("ciphertext length is not a multiple of the AES block")
    amount = data[-1]
    if not 1 <= amount <= block or data[-amount:] != bytes([amount]) * amount:
        raise DecryptError("bad PKCS#7 padding")
    return data[:-amount]


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey.

    Raises:
        ValueError: the value is not 43 base64 characters.
    """
    if len(encoding_aes_key) != 43:
        raise ValueError(
            f"WECHAT_ENCODING_AES_KEY must be 43 characters, got {len(encoding_aes_key)}"
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("WECHAT_ENCODING_AES_KEY is not base64 (A-Z, a-z, 0-9, +, /)") from exc
    if len(key) != 32:
        raise ValueError("WECHAT_ENCODING_AES_KEY does not decode to 32 bytes")
    return key


class MessageCrypto:
    """Encrypts and decrypts safe-mode messages of one Official Account.

    Usage example::

        crypto = MessageCrypto(token, encoding_aes_key, app_id)
        crypto.verify(msg_signature, timestamp, nonce, encrypted)
        xml = crypto.decrypt(encrypted)
        encrypted = crypto.encrypt(reply_xml)
        signature = crypto.signature(timestamp, nonce, encrypted)

    Args:
        token: the server-configuration token.
        encoding_aes_key: the 43-character EncodingAESKey.
        app_id: the account's AppID; decryption refuses messages for another account.

    Raises:
        ValueError: a missing app id or a malformed key (at start-up, not per message).
    """

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        if not token:
            raise ValueError("the WeChat token must not be empty")
        if not app_id:
            raise ValueError("WECHAT_APP_ID is needed to check decrypted messages")
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._app_id = app_id.encode("utf-8")

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """The ``msg_signature`` / ``MsgSignature`` of an ``Encrypt`` value."""
        return sign(self._token, timestamp, nonce, encrypted)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Check a safe-mode ``msg_signature``.

        Raises:
            SignatureError: if it does not match.
        """
        if not check_signature(self._token, msg_signature, timestamp, nonce, encrypted):
            raise SignatureError("msg_signature does not match")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: str, prefix: bytes | None = None) -> str:
        """The base64 ``Encrypt`` value of ``plaintext``.

        Args:
            plaintext: the XML to send.
            prefix: the 16 random bytes (tests pass fixed ones; default from ``secrets``).
        """
        prefix = secrets.token_bytes(_RANDOM_PREFIX) if prefix is None else prefix
        if len(prefix) != _RANDOM_PREFIX:
            raise ValueError(f"prefix must be {_RANDOM_PREFIX} bytes, got {len(prefix)}")
        body = plaintext.encode("utf-8")
        packed = prefix + struct.pack(">I", len(body)) + body + self._app_id
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(pkcs7_pad(packed)) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The plaintext XML bytes inside an ``Encrypt`` value.

        Raises:
            DecryptError: bad base64, padding or length, or another account's app id.
        """
        try:
            sealed = base64.b64decode(encrypted, validate=True)
        except binascii.Error as exc:
            raise DecryptError("Encrypt is not base64") from exc
        if not sealed or len(sealed) % 16:
            raise DecryptError("ciphertext length is not a multiple of the AES block")
        decryptor = self._cipher().decryptor()
        packed = pkcs7_unpad(decryptor.update(sealed) + decryptor.finalize())
        if len(packed) < _RANDOM_PREFIX + 4:
            raise DecryptError("decrypted message too short")
        (length,) = struct.unpack(">I", packed[_RANDOM_PREFIX : _RANDOM_PREFIX + 4])
        start = _RANDOM_PREFIX + 4
        if start + length > len(packed):
            raise DecryptError("declared message length exceeds the data")
        body, app_id = packed[start : start + length], packed[start + length :]
        # The app id binds the message to this account: a message encrypted for another
        # account with a leaked key is refused.
        if not hmac.compare_digest(app_id, self._app_id):
            raise DecryptError("message is for another app id")
        return body
