"""Test helpers for the WeChat channel: a fake WeChat API server on loopback, an
independent implementation of the message crypto (to build what WeChat would send), a
small fake Assistant and an App-shaped host."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import SecretStr

from bot.config import Secrets, Settings
from bot.i18n import Catalogue
from bot.messages import Button, Message, Reply
from grievance.conversations import ConversationState
from grievance.crypto import Vault

TOKEN = "spamtest"
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "s3cr3t-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_7f083739789a"
OPENID = "oia2TjjewbmiOUlr6X-1crbLOvLw"
VAULT_KEY = bytes(range(32))


# -- what WeChat sends: an independent implementation of the scheme ----------------------
def wx_sign(*parts: str) -> str:
    """SHA-1 of the sorted parts (written independently of bot.channels.wechat_crypto)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def wx_encrypt(xml: str, key: str = AES_KEY, app_id: str = APP_ID) -> str:
    aes = base64.b64decode(key + "=")
    body = xml.encode()
    plain = os.urandom(16) + struct.pack("!I", len(body)) + body + app_id.encode()
    padder = padding.PKCS7(256).padder()  # 256 bits = WeChat's 32-byte blocks
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(aes), modes.CBC(aes[:16])).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode()


def wx_decrypt(encrypted: str, key: str = AES_KEY) -> tuple[str, str]:
    """(xml, app id) of an Encrypt value."""
    aes = base64.b64decode(key + "=")
    dec = Cipher(algorithms.AES(aes), modes.CBC(aes[:16])).decryptor()
    padded = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    unpadder = padding.PKCS7(256).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    (length,) = struct.unpack("!I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def query(timestamp: int | None = None, nonce: str = "1320562132", token: str = TOKEN,
          **extra: str) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"signature": wx_sign(token, ts, nonce), "timestamp": ts, "nonce": nonce,
            "openid": OPENID, **extra}


def message_xml(msg_type: str = "text", *, openid: str = OPENID, msg_id: str | None = "1001",
                create_time: int = 1409735668, **fields: str) -> str:
    parts = [f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
             f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>",
             f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    parts += [f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()]
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_xml(content: str, msg_id: str = "1001", **kw: Any) -> str:
    return message_xml("text", msg_id=msg_id, Content=content, **kw)


def event_xml(event: str, key: str | None = None, **kw: Any) -> str:
    fields: dict[str, Any] = {"Event": event}
    if key is not None:
        fields["EventKey"] = key
    return message_xml("event", msg_id=None, **fields, **kw)


def encrypted_post(xml: str, *, token: str = TOKEN, timestamp: int | None = None,
                   nonce: str = "998877") -> tuple[dict[str, str], str]:
    """The query and body WeChat posts in safe mode."""
    encrypted = wx_encrypt(xml)
    params = query(timestamp, nonce, token, encrypt_type="aes")
    params["msg_signature"] = wx_sign(token, params["timestamp"], nonce, encrypted)
    body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    return params, body


# -- the application side ------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """The fake's HTTP server: a listen backlog for bursts (the default of 5 drops
    connections when twenty sends start at once), threads that do not block exit."""

    request_queue_size = 128
    daemon_threads = True

class FakeAssistant:
    """Answers from a function; de-duplicates by message id like the real Assistant."""

    def __init__(self, answer: Any = None, delay: float = 0.0) -> None:
        self.answer = answer or (lambda m: [Reply(text=f"echo: {m.text}")])
        self.delay = delay
        self.messages: list[Message] = []
        self.seen: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def handle(self, message: Message) -> list[Reply]:
        with self.lock:
            if message.message_id:
                key = (message.channel, message.message_id)
                if key in self.seen:
                    return []
                self.seen.add(key)
            self.messages.append(message)
        if self.delay:
            time.sleep(self.delay)
        return list(self.answer(message))


class FakeStore:
    """Conversation state with only a language, by pseudonym."""

    def __init__(self, langs: dict[str, str] | None = None) -> None:
        self.langs = langs or {}

    def load(self, user_ref: str, channel: str) -> ConversationState:
        return ConversationState(user_ref=user_ref, channel=channel,
                                 lang=self.langs.get(user_ref))


@dataclass
class FakeHost:
    """The attributes of bot.app.App the WeChat channel (and create_server) use."""

    assistant: Any
    settings: Settings
    vault: Vault = field(default_factory=lambda: Vault(VAULT_KEY))
    catalogue: Catalogue = field(default_factory=Catalogue.load)
    store: Any = field(default_factory=FakeStore)
    services: dict[str, Any] = field(default_factory=dict)


def wechat_settings(*, aes: bool = False, api_base: str | None = None,
                    secret: bool = True) -> Settings:
    settings = Settings()
    settings.secrets = Secrets(
        wechat_token=SecretStr(TOKEN), wechat_app_id=APP_ID,
        wechat_app_secret=SecretStr(APP_SECRET) if secret else None,
        wechat_encoding_aes_key=SecretStr(AES_KEY) if aes else None, wechat_api_base=api_base,
    )
    return settings


def menu_reply(text: str = "choose") -> list[Reply]:
    return [Reply(text=text, buttons=(Button("Report", "/report"), Button("Human", "/human")))]


# -- a fake WeChat API server ---------------------------------------------------------------
class FakeWeChatApi:
    """``/cgi-bin/token`` and ``/cgi-bin/message/custom/send`` on 127.0.0.1, over HTTP.

    Attributes:
        sent: (openid, content, raw body) of every accepted customer-service message.
        token_calls: how many tokens were issued.
        send_errcode: answer every send with this errcode (e.g. 45015) when set.
        expires_in: lifetime of issued tokens.
        token_delay: seconds the token endpoint takes (to test single-flight refresh).
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.token_calls = 0
        self.send_errcode: int | None = None
        self.expires_in = 7200
        self.token_delay = 0.0
        self.valid_tokens: set[str] = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token":
                    self.send_error(404)
                    return
                if q.get("appid") != APP_ID or q.get("secret") != APP_SECRET:
                    self._json({"errcode": 40013, "errmsg": "invalid appid"})
                    return
                time.sleep(fake.token_delay)
                with fake.lock:
                    fake.token_calls += 1
                    token = f"tok-{fake.token_calls}"
                    fake.valid_tokens.add(token)
                self._json({"access_token": token, "expires_in": fake.expires_in})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if url.path != "/cgi-bin/message/custom/send":
                    self.send_error(404)
                    return
                if q.get("access_token") not in fake.valid_tokens:
                    self._json({"errcode": 40001, "errmsg": "invalid credential"})
                    return
                if fake.send_errcode is not None:
                    self._json({"errcode": fake.send_errcode, "errmsg": "refused"})
                    return
                data = json.loads(raw.decode("utf-8"))
                with fake.lock:
                    fake.sent.append((data["touser"], data["text"]["content"], raw))
                self._json({"errcode": 0, "errmsg": "ok"})

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def texts(self) -> list[str]:
        with self.lock:
            return [content for _openid, content, _raw in self.sent]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent) >= count:
                return self.texts()
            time.sleep(0.02)
        raise AssertionError(f"expected {count} customer-service messages, got {self.texts()}")

    def __enter__(self) -> FakeWeChatApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
