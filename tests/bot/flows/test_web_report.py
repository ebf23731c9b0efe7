"""A report taken in the web chat over real HTTP, from /report to the receipt code, then
the moderator's reply reaching the worker by status check and by the page's poll."""

from __future__ import annotations

import httpx

from bot.server import create_server
from grievance.codes import parse_code
from grievance.outbox import PullOutbox


def test_report_status_and_reply_in_the_web_chat(app, live_server):
    def say(text: str, n: int) -> list[dict]:
        body = {"session": "web-worker-1", "text": text, "message_id": f"m{n}"}
        response = httpx.post(server.url + "/api/messages", json=body, timeout=60)
        assert response.status_code == 200
        return response.json()["replies"]

    steps = [
        "/report",
        "report:consent:yes",
        "老板三个月没发工资，说谁去投诉就开除谁。",
        "report:done",
        "report:cat:wages",
        "report:urg:ongoing",
        "东莞某制衣厂",
        "report:skip",
        "大概四十人",
        "report:contact:yes",
    ]
    with live_server(create_server(app)) as server:
        transcript = []
        for n, text in enumerate(steps):
            transcript.append((text, say(text, n)))
        summary = transcript[-1][1][-1]
        assert "东莞某制衣厂" in summary["text"]
        assert [b["value"] for b in summary["buttons"]] == ["report:send", "report:cancel"]
        saved = say("report:send", 100)
        code = parse_code(saved[1]["text"])
        assert "7" in saved[2]["text"]

        service = app.services["grievance"]
        moderator = service.create_moderator("web-mod", role="moderator", password_hash="x")
        case = service.list_cases()[0]
        assert (case.category, case.urgency, case.contact_allowed) == ("wages", "ongoing", True)
        service.acknowledge(case.case_id, moderator)
        service.reply(case.case_id, moderator, "我们已收到，请保留工资条和聊天记录。")

        status = say(code.lower().replace("-", ""), 101)
        assert any("我们已收到" in r["text"] for r in status)
        added = say("昨天又扣了饭钱。", 102)
        assert added and say("status:done", 103)
        events = service.get_case(case.case_id, moderator).events
        assert events[-1].kind == "worker_message" and events[-1].text == "昨天又扣了饭钱。"

        pull = PullOutbox(app.services["sessions"], app.vault, "web")
        ref = app.vault.pseudonym("web", "web-worker-1")
        # The worker sees who is writing and about which report, then the moderator's words.
        reported = case.created_at.date().isoformat()
        header = f"【WorkRight 工作人员回复】关于你 {reported} 提交的报告（工资）："
        assert [m.text for m in pull.pending_for(ref)] == [
            f"{header}\n我们已收到，请保留工资条和聊天记录。"
        ]
        assert pull.pending_for(ref) == []
