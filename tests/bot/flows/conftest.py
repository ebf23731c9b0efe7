"""Fixtures of the flow tests: a real SQLite file, the real catalogue, and a small driver
that does what the Assistant does around a flow (claim, load, start/handle, save). The engine,
vault, clock and service come from ``tests/grievance/fixtures.py``, on this SQLite file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.flows.base import Flow, Turn
from bot.flows.delete import DeleteFlow
from bot.flows.report import ReportFlow
from bot.flows.status import StatusFlow, contains_receipt_code
from bot.i18n import Catalogue
from bot.messages import Message, Reply
from grievance.conversations import ConversationStore
from grievance.crypto import Vault

_COMMAND = re.compile(r"^/(?P<name>[a-z_]+)(?:\s+(?P<arg>.*))?$", re.S)


class Driver:
    """Sends messages from one worker through the flows, as the Assistant would."""

    def __init__(self, flows: dict[str, Flow], store: ConversationStore, vault: Vault,
                 *, channel: str = "telegram", user: str = "555001", lang: str = "en") -> None:
        self.flows, self.store, self.vault = flows, store, vault
        self.channel, self.user, self.lang = channel, user, lang

    @property
    def user_ref(self) -> str:
        return self.vault.pseudonym(self.channel, self.user)

    def state(self):
        return self.store.load(self.user_ref, self.channel)

    def send(self, text: str, message_id: str | None = None) -> list[Reply]:
        if message_id and not self.store.claim(self.channel, message_id, self.user_ref):
            return []
        state = self.store.load(self.user_ref, self.channel)
        message = Message(self.channel, self.user, text, message_id)
        turn = Turn(message=message, state=state, lang=self.lang, text=text.strip())
        if state.flow in self.flows:
            replies = self.flows[state.flow].handle(turn)
        else:
            match = _COMMAND.match(turn.text)
            if match and match["name"] in self.flows:
                turn.text = (match["arg"] or "").strip()
                replies = self.flows[match["name"]].start(turn)
            elif contains_receipt_code(turn.text):
                replies = self.flows["status"].start(turn)
            else:
                replies = [Reply("(assistant)")]
        self.store.save(state)
        return replies


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'flows.db'}"


@pytest.fixture
def store(session_factory, vault) -> ConversationStore:
    return ConversationStore(session_factory, vault)


@pytest.fixture
def flows(service, store, catalogue) -> dict[str, Flow]:
    return {
        "report": ReportFlow(service, catalogue),
        "status": StatusFlow(service, catalogue),
        "delete": DeleteFlow(service, store, catalogue),
    }


@pytest.fixture
def driver(flows, store, vault) -> Driver:
    return Driver(flows, store, vault)


@pytest.fixture
def moderator_id(service) -> int:
    return service.create_moderator("mod", role="moderator", password_hash="x")
