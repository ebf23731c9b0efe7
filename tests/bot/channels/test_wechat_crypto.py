"""Signatures and the safe-mode envelope, against WeChat's own sample vector and an
independent implementation (tests/bot/channels/wechat_fakes.py)."""

from __future__ import annotations

import pytest

from bot.channels.wechat_crypto import (
    DecryptError,
    MessageCrypto,
    SignatureError,
    check_signature,
    decode_aes_key,
    pkcs7_pad,
    pkcs7_unpad,
    sign,
)
from bot.channels.wechat_xml import parse_xml
from tests.bot.channels.wechat_fakes import AES_KEY, APP_ID, TOKEN, wx_decrypt, wx_encrypt

# The decryption sample of Tencent's WXBizMsgCrypt demo (Sample.py / README of the
# official message-encryption SDK): token "spamtest", the EncodingAESKey below, app id
# wx2c2769f8efd9abc2, and a text message "abcdteT".
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6"
    "F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T33"
    "2jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewp"
    "usjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto(TOKEN, AES_KEY, APP_ID)


def test_official_sample_signature_and_decryption(crypto):
    assert sign(TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT) == SAMPLE_MSG_SIGNATURE
    crypto.verify(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    message = parse_xml(crypto.decrypt(SAMPLE_ENCRYPT))
    assert message.content == "abcdteT"
    assert message.msg_id == "6054768590064713728"
    assert message.from_user == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert message.to_user == "gh_10f6c3c3ac5a"


def test_sample_refused_for_another_app_id():
    with pytest.raises(DecryptError, match="app id"):
        MessageCrypto(TOKEN, AES_KEY, "wx0000000000000000").decrypt(SAMPLE_ENCRYPT)


def test_sample_refused_with_a_wrong_signature(crypto):
    with pytest.raises(SignatureError):
        crypto.verify("0" * 40, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    with pytest.raises(SignatureError):
        crypto.verify(SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, "1", SAMPLE_ENCRYPT)


def test_url_signature_is_sha1_of_sorted_parts():
    import hashlib

    expected = hashlib.sha1("".join(sorted(["tok", "123", "abc"])).encode()).hexdigest()
    assert sign("tok", "123", "abc") == expected
    assert check_signature("tok", expected.upper(), "123", "abc")
    assert not check_signature("tok", expected, "124", "abc")


@pytest.mark.parametrize("text", ["<xml>hi</xml>", "", "中文" * 700, "x" * 31, "x" * 32])
def test_round_trip_with_an_independent_implementation(crypto, text):
    assert wx_decrypt(crypto.encrypt(text)) == (text, APP_ID)
    assert crypto.decrypt(wx_encrypt(text)).decode() == text


def test_padding_is_to_32_bytes():
    for n in range(0, 70):
        padded = pkcs7_pad(b"a" * n)
        assert len(padded) % 32 == 0 and 1 <= len(padded) - n <= 32
        assert pkcs7_unpad(padded) == b"a" * n


@pytest.mark.parametrize("bad", [b"", b"a" * 15, b"a" * 31 + b"\x00", b"a" * 30 + b"\x03\x02",
                                 b"a" * 31 + b"\x21"])
def test_bad_padding_refused(bad):
    with pytest.raises(DecryptError):
        pkcs7_unpad(bad)


def test_tampered_ciphertext_is_refused(crypto):
    import base64

    sealed = bytearray(base64.b64decode(crypto.encrypt("<xml>hello</xml>")))
    sealed[-1] ^= 0x55  # breaks the padding of the last block
    with pytest.raises(DecryptError):
        crypto.decrypt(base64.b64encode(bytes(sealed)).decode())
    with pytest.raises(DecryptError):
        crypto.decrypt("not base64 !!")
    with pytest.raises(DecryptError):
        crypto.decrypt(base64.b64encode(b"short").decode())


@pytest.mark.parametrize("key", ["", "abc", AES_KEY + "A", AES_KEY[:-1] + "!"])
def test_bad_encoding_aes_key_fails_at_start_up(key):
    with pytest.raises(ValueError, match="WECHAT_ENCODING_AES_KEY"):
        decode_aes_key(key)


def test_app_id_is_required_for_safe_mode():
    with pytest.raises(ValueError, match="WECHAT_APP_ID"):
        MessageCrypto(TOKEN, AES_KEY, "")
