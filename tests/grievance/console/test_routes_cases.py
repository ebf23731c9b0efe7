"""The queue and the case page over real HTTP: order, filters, clocks, actions, escaping."""

from __future__ import annotations

import re

from grievance.outbox import PullOutbox
from tests.grievance.console.conftest import csrf

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/console/cases/(\d+)"', html)]


def test_queue_sorted_by_urgency_then_deadline(world):
    world.moderator("mod")
    past = world.case(urgency="past", user="a")
    world.clock.advance(days=1)
    ongoing_late = world.case(urgency="ongoing", user="b")
    world.clock.advance(days=1)
    danger = world.case(urgency="danger_now", user="c")
    ongoing_early_id = world.case(urgency="ongoing", user="d")
    # Acknowledging moves a case onto its (later) 3-month deadline.
    mod_id = world.accounts.by_name("mod").moderator_id
    world.service.acknowledge(ongoing_early_id, mod_id)
    page = world.signed_in("mod").get("/console/cases")
    assert _ids(page.text) == [danger, ongoing_late, ongoing_early_id, past]


def test_queue_filters(world):
    world.moderator("mod")
    mod_id = world.accounts.by_name("mod").moderator_id
    wages = world.case(category="wages", user="a", jurisdiction="CN")
    overtime = world.case(category="overtime", user="b", jurisdiction="VN", urgency="danger_now")
    world.service.assign(overtime, mod_id, mod_id)
    world.clock.advance(days=8)
    late = world.case(category="forced_labour", user="c")
    world.service.acknowledge(late, mod_id)
    client = world.signed_in("mod")
    cases = {
        "category=overtime": [overtime],
        "jurisdiction=VN": [overtime],
        "urgency=danger_now": [overtime],
        "assignee=me": [overtime],
        f"assignee={mod_id}": [overtime],
        "assignee=none": [wages, late],
        "status=acknowledged": [late],
        "overdue=yes": [overtime, wages],
        "overdue=no": [late],
        "status=bogus&category=%3Cscript%3E": [overtime, wages, late],
    }
    for query, expected in cases.items():
        assert sorted(_ids(client.get(f"/console/cases?{query}").text)) == sorted(expected), query
    audit = [e for e in world.accounts.audit_entries(50) if e["action"] == "view_queue"]
    assert any(e["details"].get("category") == "overtime" for e in audit)


def test_queue_shows_clocks_in_colour_and_no_free_text(world):
    world.case(account="SECRET ACCOUNT TEXT", employer="Factory X", user="a")
    world.clock.advance(days=6, hours=1)
    html = world.signed_in("mod").get("/console/cases").text
    assert "clock-soon" in html and "剩 23 小时" in html
    world.clock.advance(days=2)
    html = world.signed_in("mod").get("/console/cases").text
    assert "clock-overdue" in html and "逾期 1 天" in html
    assert "SECRET ACCOUNT TEXT" not in html and "Factory X" not in html


def test_case_page_shows_the_decrypted_account_and_audits_the_view(world):
    client = world.signed_in("mod")
    case = world.case(account="老板拖欠三个月工资", employer="Factory X", location="Dongguan")
    html = client.get(f"/console/cases/{case}").text
    assert "老板拖欠三个月工资" in html and "Factory X" in html and "Dongguan" in html
    views = [e for e in world.accounts.audit_entries(20) if e["action"] == "view_case"]
    assert views and views[0]["case_id"] == case


def test_reports_with_markup_render_inert(world):
    client = world.signed_in("mod")
    case = world.case(account=XSS, employer=XSS, location='"><svg onload=alert(1)>',
                      workers_affected="{{ 7*7 }}")
    mod_id = world.accounts.by_name("mod").moderator_id
    world.service.add_note(case, mod_id, XSS)
    for path in (f"/console/cases/{case}", "/console/cases", "/console/dashboard"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<svg onload" not in html
    html = client.get(f"/console/cases/{case}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html
    assert "<script" not in html  # the console has no script at all


def test_assign_status_note_and_reply(world):
    client = world.signed_in("mod")
    other = world.moderator("other")
    case = world.case(user="worker-session")
    token = csrf(client, f"/console/cases/{case}")
    client.post(f"/console/cases/{case}/assign", data={"assignee": str(other), "csrf": token})
    client.post(f"/console/cases/{case}/status", data={"status": "acknowledged", "csrf": token})
    client.post(f"/console/cases/{case}/status", data={"status": "in_progress", "csrf": token})
    client.post(f"/console/cases/{case}/note", data={"text": "internal only", "csrf": token})
    sent = client.post(f"/console/cases/{case}/reply",
                       data={"text": "我们收到了你的报告", "csrf": token})
    assert sent.headers["location"] == f"/console/cases/{case}?done=reply"
    page = client.get(sent.headers["location"]).text
    assert "回复已放入发件箱" in page
    assert "分配给 other" in page and "ev-acknowledged" in page and "已确认 → 处理中" in page
    assert "internal only" in page and "我们收到了你的报告" in page
    summary = world.service.list_cases()[0]
    assert summary.assignee_id == other and summary.status == "in_progress"
    # The reply waits in the outbox for the worker's web chat, and only for them.
    outbox = PullOutbox(world.sessions, world.vault, "web")
    assert outbox.pending_for(world.vault.pseudonym("web", "someone-else")) == []
    got = outbox.pending_for(world.vault.pseudonym("web", "worker-session"))
    assert [m.text for m in got] == ["我们收到了你的报告"]
    actions = {e["action"] for e in world.accounts.audit_entries(50) if e["case_id"] == case}
    assert {"assigned", "acknowledged", "note", "reply_sent", "view_case"} <= actions


def test_reply_to_a_no_contact_worker_is_refused(world):
    client = world.signed_in("mod")
    case = world.case(channel=None)
    page = client.get(f"/console/cases/{case}").text
    assert 'id="no-contact"' in page and 'id="send-reply"' not in page
    refused = client.post(f"/console/cases/{case}/reply",
                          data={"text": "hello", "csrf": csrf(client, f"/console/cases/{case}")})
    assert refused.status_code == 409 and "工人不接受联系" in refused.text
    events = world.service.get_case(case, world.accounts.by_name("mod").moderator_id).events
    assert "reply_sent" not in [e.kind for e in events]


def test_invalid_actions_explain_themselves(world):
    client = world.signed_in("mod")
    case = world.case()
    token = csrf(client, f"/console/cases/{case}")
    bad_status = client.post(f"/console/cases/{case}/status",
                             data={"status": "resolved", "csrf": token})
    assert bad_status.status_code == 409 and "不能进行这个状态变更" in bad_status.text
    empty = client.post(f"/console/cases/{case}/reply", data={"text": "  ", "csrf": token})
    assert empty.status_code == 400
    nobody = client.post(f"/console/cases/{case}/assign", data={"assignee": "999", "csrf": token})
    assert nobody.status_code == 400
    assert client.get("/console/cases/9999").status_code == 404
    missing = client.post("/console/cases/9999/note", data={"text": "x", "csrf": token})
    assert missing.status_code == 404


def test_english_case_page(world):
    client = world.signed_in("mod")
    client.get("/console/lang", params={"to": "en", "next": "/console/cases"})
    case = world.case(channel=None)
    html = client.get(f"/console/cases/{case}").text
    assert "Case #" in html and 'The worker chose "no contact"' in html.replace("&#34;", '"')
