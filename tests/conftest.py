"""Shared fixtures: the real encoder and search index once per session, a fresh App (real
SQLite file) per test, a live server on loopback, and no network beyond loopback."""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.config import DatabaseSettings, PrivacySettings, Secrets, Settings
from knowledge_base.corpus import KnowledgeBase
from knowledge_base.encoders import E5Encoder, Encoder, USEEncoder
from knowledge_base.index import HybridIndex

#: The database fixtures of the grievance and flow tests (each folder brings its own ``db_url``).
pytest_plugins = ["tests.grievance.fixtures"]

ROOT = Path(__file__).resolve().parents[1]
INDEX_DIR = ROOT / "var" / "index"
TEST_SECRET = base64.urlsafe_b64encode(b"k" * 32).decode()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise OSError(f"tests may only reach loopback addresses, not {host!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection beyond 127.0.0.0/8 fails: tests never reach the internet."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real bundled e5 encoder, loaded once."""
    return E5Encoder()


@pytest.fixture(scope="session")
def second_encoder() -> USEEncoder:
    """The real bundled USE encoder (the retriever's second ranking), loaded once."""
    return USEEncoder()


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The real knowledge base (statutes and cards)."""
    return KnowledgeBase.load()


@pytest.fixture(scope="session")
def index(kb: KnowledgeBase, encoder: Encoder, second_encoder: USEEncoder) -> HybridIndex:
    """The real index with both encoders' embeddings, shared with `make run` (built once per
    content hash)."""
    return HybridIndex.load_or_build(kb, encoder, INDEX_DIR, second=second_encoder)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a test: a SQLite file and a key under ``tmp_path``, the shared index."""
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite:///{tmp_path}/workright.db"),
        privacy=PrivacySettings(key_file=tmp_path / "secret.key"),
        **overrides,
    )
    settings.kb.index_dir = INDEX_DIR
    settings.secrets = Secrets()
    return settings


@pytest.fixture()
def make_app(
    tmp_path: Path, encoder: Encoder, second_encoder: USEEncoder, kb: KnowledgeBase,
    index: HybridIndex,
) -> Iterator[Callable[..., App]]:
    """Build Apps on a fresh SQLite file, sharing the session's encoders, sources and index."""
    apps: list[App] = []

    def factory(settings: Settings | None = None, **kwargs: Any) -> App:
        kwargs.setdefault("kb", kb)
        kwargs.setdefault("index", index)
        kwargs.setdefault("second_encoder", second_encoder)
        app = build_app(settings or make_settings(tmp_path), encoder=encoder, **kwargs)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@pytest.fixture()
def app(make_app: Callable[..., App]) -> App:
    """A fresh App on its own SQLite database."""
    return make_app()


class LiveServer:
    """A uvicorn server on a free loopback port, in a thread."""

    def __init__(self, asgi: Any) -> None:
        import uvicorn

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(asgi, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start within 30 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture()
def live_server() -> Callable[[Any], LiveServer]:
    """Start an ASGI app on loopback: ``with live_server(api) as server: server.url``."""
    return LiveServer
