"""``GET /api/messages/outbox`` and ``POST /api/messages/outbox/ack`` over real HTTP: only
the worker's session gets the reply, and a reply counts as sent only once acknowledged."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from bot.channels.web_outbox import mount
from grievance.crypto import Vault
from grievance.db import make_session_factory
from grievance.values import NewReport
from tests.grievance.support import TEST_KEY, FakeClock, build_service, migrated_engine


class _Host:
    """What the mount reads from ``bot.app.App``: services and the vault."""

    def __init__(self, sessions, vault) -> None:
        self.services = {"sessions": sessions}
        self.vault = vault


def test_replies_reach_only_their_session_once(tmp_path, live_server):
    engine = migrated_engine(f"sqlite:///{tmp_path}/outbox.db")
    sessions = make_session_factory(engine)
    vault = Vault(TEST_KEY)
    service = build_service(sessions, vault, FakeClock())
    moderator = service.create_moderator("mod", role="moderator", password_hash="x")
    ref = vault.pseudonym("web", "worker-session")
    case = service.open_case(NewReport(
        category="wages", urgency="ongoing", account="...", contact_consent=True,
        worker_ref=ref, channel="web", chat_id="worker-session")).case_id
    service.reply(case, moderator, "第一条回复")
    service.reply(case, moderator, "second <b>reply</b>")
    api = FastAPI()
    mount(api, _Host(sessions, vault))  # type: ignore[arg-type]  # reads two fields
    try:
        with live_server(api) as server:
            url = server.url + "/api/messages/outbox"
            # Another session, and a session id that is the pseudonym itself, get nothing.
            for stranger in ("someone-else", ref):
                response = httpx.get(url, params={"session": stranger})
                assert response.status_code == 200 and response.json() == {"replies": []}
            got = httpx.get(url, params={"session": "worker-session"})
            assert got.headers["cache-control"] == "no-store"
            replies = got.json()["replies"]
            assert [r["text"] for r in replies] == ["第一条回复", "second <b>reply</b>"]
            assert all(r["from"] == "moderator" and r["buttons"] == [] for r in replies)
            ids = [r["id"] for r in replies]
            # Leased while the page shows them: the next poll is empty.
            again = httpx.get(url, params={"session": "worker-session"})
            assert again.json() == {"replies": []}
            # Only the worker's own page can acknowledge them.
            ack = url + "/ack"
            stranger = httpx.post(ack, json={"session": "someone-else", "ids": ids})
            assert stranger.status_code == 200 and stranger.json() == {"acknowledged": 0}
            done = httpx.post(ack, json={"session": "worker-session", "ids": ids})
            assert done.json() == {"acknowledged": 2}
            repeat = httpx.post(ack, json={"session": "worker-session", "ids": ids})
            assert repeat.json() == {"acknowledged": 0}
            # Bad input gets a clear 422 and changes nothing.
            assert httpx.get(url).status_code == 422
            assert httpx.get(url, params={"session": "x" * 129}).status_code == 422
            for body in ({"session": "worker-session", "ids": []},
                         {"session": "worker-session", "ids": list(range(101))},
                         {"session": "worker-session", "ids": ["one"]},
                         {"ids": ids}, {"session": "", "ids": ids}):
                assert httpx.post(ack, json=body).status_code == 422, body
            assert httpx.post(ack, content=b"\xff\x00", headers={
                "content-type": "application/json"}).status_code == 422
    finally:
        engine.dispose()
