"""Fixtures of the console tests: the real console on a real SQLite file, served over real
HTTP on loopback, with a settable clock and a cheap (test-only) argon2 cost."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from bot.config import Settings
from grievance.accounts import ModeratorAccounts, totp_code
from grievance.console.app import Console, install
from grievance.crypto import Vault
from grievance.db import make_session_factory
from grievance.service import GrievanceService
from grievance.values import NewReport
from tests.conftest import make_settings
from tests.grievance.support import TEST_KEY, FakeClock, build_service, migrated_engine

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')


def cheap_hasher() -> PasswordHasher:
    """argon2id with a tiny cost: the tests sign in hundreds of times."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class Host:
    """What ``bot.app.App`` gives the console: settings, vault, services."""

    settings: Settings
    vault: Vault
    services: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConsoleWorld:
    """A console with its services, clock and HTTP address."""

    console: Console
    service: GrievanceService
    accounts: ModeratorAccounts
    clock: FakeClock
    vault: Vault
    sessions: Any = None
    url: str = ""

    def moderator(self, name: str, role: str = "moderator", password: str = PASSWORD) -> int:
        """A ready account (one-time password already replaced by ``password``)."""
        moderator_id, one_time = self.accounts.create(name, role=role)
        self.accounts.change_password(moderator_id, one_time, password)
        return moderator_id

    def case(self, *, channel: str | None = "web", user: str = "session-1", **kwargs: Any) -> int:
        """Open a case as a worker of ``channel`` would (contact allowed by default)."""
        values: dict[str, Any] = {"category": "wages", "urgency": "ongoing",
                                  "account": "No pay for 3 months", "jurisdiction": "CN",
                                  "lang": "zh", "contact_consent": channel is not None}
        values.update(kwargs)
        if values["contact_consent"]:
            values.setdefault("channel", channel)
            values.setdefault("chat_id", user)
        values.setdefault("worker_ref", self.vault.pseudonym(channel or "web", user))
        return self.service.open_case(NewReport(**values)).case_id

    def client(self) -> httpx.Client:
        """A client that keeps cookies and does not follow redirects."""
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)

    def login(self, client: httpx.Client, name: str, password: str = PASSWORD,
              totp_secret: str | None = None) -> httpx.Response:
        """Sign in through the forms, with the TOTP step when a secret is given."""
        response = client.post("/console/login", data={
            "name": name, "password": password, "csrf": csrf(client, "/console/login")})
        if totp_secret is not None:
            assert response.headers.get("location") == "/console/login/totp"
            response = client.post("/console/login/totp", data={
                "code": self.totp(totp_secret), "csrf": csrf(client, "/console/login/totp")})
        return response

    def totp(self, secret: str, steps_ahead: int = 0) -> str:
        """The current TOTP code of ``secret`` by the console's clock."""
        return totp_code(secret.replace(" ", ""), int(self.clock().timestamp()) // 30 + steps_ahead)

    def signed_in(self, name: str, role: str = "moderator") -> httpx.Client:
        """A client signed in as ``name`` (an account made now if there is none)."""
        if self.accounts.by_name(name) is None:
            self.moderator(name, role)
        client = self.client()
        response = self.login(client, name)
        assert response.status_code == 303 and response.headers["location"] == "/console/cases"
        return client


def csrf(client: httpx.Client, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    found = CSRF_RE.search(page.text)
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


@pytest.fixture
def make_world(
    tmp_path: Path, live_server: Callable[[Any], Any]
) -> Iterator[Callable[..., ConsoleWorld]]:
    """Build a console on a fresh SQLite file and serve it on loopback."""
    servers: list[Any] = []
    engines: list[Any] = []

    def factory(**kwargs: Any) -> ConsoleWorld:
        engine = migrated_engine(f"sqlite:///{tmp_path}/console-{len(engines)}.db")
        engines.append(engine)
        sessions = make_session_factory(engine)
        vault = Vault(TEST_KEY)
        clock = FakeClock()
        service = build_service(sessions, vault, clock)
        accounts = ModeratorAccounts(sessions, vault, service, clock, hasher=cheap_hasher(),
                                     **kwargs)
        host = Host(settings=make_settings(tmp_path), vault=vault,
                    services={"grievance": service, "sessions": sessions})
        console = Console.build(host, clock=clock, accounts=accounts)
        api = FastAPI()
        install(api, console)
        server = live_server(api).__enter__()
        servers.append(server)
        return ConsoleWorld(console, service, accounts, clock, vault, sessions, url=server.url)

    yield factory
    for server in servers:
        server.__exit__(None, None, None)
    for engine in engines:
        engine.dispose()


@pytest.fixture
def world(make_world: Callable[..., ConsoleWorld]) -> ConsoleWorld:
    """A served console with no accounts yet."""
    return make_world()
