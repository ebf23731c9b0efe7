"""The dashboard, the admin page and the CSV export over real HTTP."""

from __future__ import annotations

import csv
import io

from grievance.console.routes_admin import csv_safe, export_csv
from grievance.stats import QuestionStats
from tests.grievance.console.conftest import csrf


def test_dashboard_renders_svg_charts_and_hides_small_groups(world):
    for i in range(6):
        world.case(category="wages", user=f"w{i}")
    for i in range(2):
        world.case(category="forced_labour", user=f"f{i}")
    counter = QuestionStats(world.sessions, world.clock)
    for topic, n in (("overtime", 7), ("child_labour", 2)):
        for _ in range(n):
            counter.record(topic)
    client = world.signed_in("mod")
    html = client.get("/console/dashboard").text
    assert html.count('<svg class="chart"') == 3
    assert "工资: 6" in html  # a bar's tooltip
    assert "强迫劳动" not in html  # two reporters: not shown anywhere
    assert "加班: 7" in html and "童工" not in html  # questions: 7 shown, 2 hidden
    assert "少于 5 位报告者" in html
    body = html.split("<body>")[1].replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in body and "https://" not in body  # nothing from elsewhere
    weeks = client.get("/console/dashboard?weeks=52").text
    assert 'aria-current="page">最近 52 周' in weeks
    assert client.get("/console/dashboard?weeks=bogus").status_code == 200
    audit = [e for e in world.accounts.audit_entries(20) if e["action"] == "view_dashboard"]
    assert {e["details"]["weeks"] for e in audit} == {12, 52}


def test_admin_adds_a_moderator_and_sees_the_password_once(world):
    admin = world.signed_in("boss", role="admin")
    token = csrf(admin, "/console/admin")
    added = admin.post("/console/admin/moderators",
                       data={"name": "lin", "role": "moderator", "csrf": token})
    assert added.status_code == 200
    password = added.text.split('id="one-time-password">')[1].split("<")[0]
    assert len(password) >= 16 and password not in admin.get("/console/admin").text
    assert added.headers["cache-control"] == "no-store"
    lin = world.client()
    assert world.login(lin, "lin", password).status_code == 303
    assert lin.get("/console/cases").headers["location"] == "/console/account/password"
    taken = admin.post("/console/admin/moderators",
                       data={"name": "lin", "role": "admin", "csrf": token})
    assert taken.status_code == 400
    bad_role = admin.post("/console/admin/moderators",
                          data={"name": "x", "role": "root", "csrf": token})
    assert bad_role.status_code == 400


def test_admin_cannot_disable_themself(world):
    admin = world.signed_in("boss", role="admin")
    me = world.accounts.by_name("boss").moderator_id
    response = admin.post(f"/console/admin/moderators/{me}/disable",
                          data={"csrf": csrf(admin, "/console/admin")})
    assert response.status_code == 400 and world.accounts.get(me).active


def test_admin_resets_a_password(world):
    admin = world.signed_in("boss", role="admin")
    moderator = world.signed_in("mod")
    mod_id = world.accounts.by_name("mod").moderator_id
    reset = admin.post(f"/console/admin/moderators/{mod_id}/reset-password",
                       data={"csrf": csrf(admin, "/console/admin")})
    password = reset.text.split('id="one-time-password">')[1].split("<")[0]
    assert moderator.get("/console/cases").status_code == 303
    assert world.login(world.client(), "mod", password).status_code == 303


def test_admin_page_lists_the_audit_log_without_free_text(world):
    admin = world.signed_in("boss", role="admin")
    case = world.case(account="very private words")
    admin.get(f"/console/cases/{case}")
    html = admin.get("/console/admin").text
    assert "view_case" in html and "login" in html
    assert "very private words" not in html


def test_export_is_audited_and_text_only_on_request(world):
    case = world.case(account="=HYPERLINK(\"http://x\")", employer="Factory X")
    admin = world.signed_in("boss", role="admin")
    token = csrf(admin, "/console/admin")
    plain = admin.post("/console/export", data={"csrf": token})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    assert "attachment" in plain.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(plain.content.decode("utf-8-sig"))))
    assert [r["case_id"] for r in rows] == [str(case)]
    assert "account" not in rows[0] and "Factory X" not in plain.text
    assert "worker_ref" not in rows[0]
    full = admin.post("/console/export", data={"csrf": token, "include_text": "1"})
    rows = list(csv.DictReader(io.StringIO(full.content.decode("utf-8-sig"))))
    assert rows[0]["employer"] == "Factory X"
    assert rows[0]["account"] == "'=HYPERLINK(\"http://x\")"
    exports = [e for e in world.accounts.audit_entries(20) if e["action"] == "export"]
    assert [e["details"]["include_text"] for e in exports] == [True, False]


def test_csv_helpers():
    assert csv_safe("=1+1") == "'=1+1" and csv_safe("-3") == "'-3" and csv_safe("ok") == "ok"
    assert export_csv([]) == "\ufeff"
    assert export_csv([{"a": "1", "b": "@x"}]) == "\ufeffa,b\r\n1,'@x\r\n"
