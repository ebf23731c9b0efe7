"""The web chat over real HTTP on loopback."""

import httpx

from bot.server import create_server


def test_web_chat_page_and_api_over_http(app, live_server):
    with live_server(create_server(app)) as server:
        page = httpx.get(server.url + "/")
        assert page.status_code == 200 and "chat.js" in page.text
        assert httpx.get(server.url + "/static/chat.js").status_code == 200
        assert httpx.get(server.url + "/static/../config.py").status_code == 404
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}

        body = {"session": "s1", "text": "公司不和我签劳动合同怎么办", "message_id": "a1"}
        response = httpx.post(server.url + "/api/messages", json=body, timeout=60)
        assert response.status_code == 200
        replies = response.json()["replies"]
        assert all(set(r) == {"text", "buttons", "citations"} for r in replies)
        keys = {c["key"] for r in replies for c in r["citations"]}
        assert keys & {"CN-LCL:82", "CN-LCL:10"}
        for reply in replies:
            for button in reply["buttons"]:
                assert set(button) == {"label", "value"}

        again = httpx.post(server.url + "/api/messages", json=body, timeout=60)
        assert again.json() == {"replies": []}

        press = httpx.post(server.url + "/api/messages",
                           json={"session": "s1", "text": "/help"}, timeout=60)
        assert press.json()["replies"][0]["buttons"]


def test_malformed_requests_get_clear_errors(app, live_server):
    with live_server(create_server(app)) as server:
        url = server.url + "/api/messages"
        json_type = {"content-type": "application/json"}
        bad_json = httpx.post(url, content=b"{not json", headers=json_type)
        assert bad_json.status_code == 422 and "expected" in bad_json.json()
        no_session = httpx.post(url, json={"text": "hi"})
        assert no_session.status_code == 422
        assert any("session" in d for d in no_session.json()["details"])
        wrong_type = httpx.post(url, json={"session": "s", "text": 42})
        assert wrong_type.status_code == 422
        huge = httpx.post(url, content=b"x" * 400_000, headers=json_type)
        assert huge.status_code == 413
        binary = httpx.post(url, content=bytes(range(256)) * 10,
                            headers={"content-type": "application/json"})
        assert binary.status_code == 422


def test_a_100_kb_message_is_answered(app, live_server):
    with live_server(create_server(app)) as server:
        text = "老板拖欠工资" * 6000
        response = httpx.post(server.url + "/api/messages",
                              json={"session": "big", "text": text[:100_000]}, timeout=120)
        assert response.status_code == 200
        assert response.json()["replies"]
