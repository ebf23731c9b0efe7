"""Signing in over real HTTP: passwords, throttling, TOTP enrolment and sign-in, language."""

from __future__ import annotations

import base64

import httpx

from tests.grievance.console.conftest import PASSWORD, SECRET_RE, ConsoleWorld, csrf


def _enrol(world: ConsoleWorld, client: httpx.Client) -> str:
    """Enrol the signed-in client in TOTP through the page; returns the secret."""
    page = client.get("/console/account/2fa")
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.text
    found = SECRET_RE.search(page.text)
    assert found is not None
    secret = found.group(1).replace(" ", "")
    token = csrf(client, "/console/account/2fa")
    bad = client.post("/console/account/2fa", data={"code": "000000", "csrf": token})
    assert bad.status_code == 400
    good = client.post("/console/account/2fa", data={"code": world.totp(secret), "csrf": token})
    assert good.status_code == 303 and good.headers["location"].startswith("/console/account")
    return secret


def test_the_qr_code_encodes_an_otpauth_uri_rendered_locally(world):
    client = world.signed_in("mod")
    page = client.get("/console/account/2fa").text
    data = page.split('src="data:image/svg+xml;base64,')[1].split('"')[0]
    svg = base64.b64decode(data).decode()
    assert svg.lstrip().startswith("<?xml") and "<path" in svg
    assert "<script" not in svg


def test_one_time_password_must_be_changed_first(world):
    moderator_id, one_time = world.accounts.create("newbie", role="moderator")
    client = world.client()
    assert world.login(client, "newbie", one_time).status_code == 303
    response = client.get("/console/cases")
    assert response.headers["location"] == "/console/account/password"
    token = csrf(client, "/console/account/password")
    for new, repeat, error in (("short", "short", "至少需要"),
                               ("a long new password", "another long one", "不一致"),
                               ("a long new password", "a long new password", None)):
        data = {"current": one_time, "new": new, "repeat": repeat, "csrf": token}
        response = client.post("/console/account/password", data=data)
        if error:
            assert response.status_code == 400 and error in response.text
    assert response.status_code == 303
    assert client.get("/console/cases").status_code == 200
    assert not world.accounts.get(moderator_id).must_change_password


def test_wrong_passwords_and_unknown_names_look_the_same(world):
    world.moderator("mod")
    client = world.client()
    wrong = world.login(client, "mod", "not the password")
    unknown = world.login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    assert client.get("/console/cases").status_code == 303


def test_login_is_throttled_per_account(world):
    world.moderator("mod")
    client = world.client()
    for _ in range(5):
        assert world.login(client, "mod", "guess").status_code == 401
    # Even the right password is refused while throttled, from any address.
    throttled = world.login(world.client(), "mod", PASSWORD)
    assert throttled.status_code == 429 and "15" in throttled.text
    world.clock.advance(minutes=16)
    assert world.login(world.client(), "mod", PASSWORD).status_code == 303
    failed = [e for e in world.accounts.audit_entries(50) if e["action"] == "login_failed"]
    assert {e["details"]["reason"] for e in failed} == {"password", "throttled"}


def test_login_is_throttled_per_address(world):
    world.moderator("mod")
    client = world.client()
    for i in range(20):
        assert world.login(client, f"name-{i}", "guess").status_code == 401
    assert world.login(client, "mod", PASSWORD).status_code == 429
    world.clock.advance(minutes=16)
    assert world.login(client, "mod", PASSWORD).status_code == 303


def test_totp_enrolment_then_two_step_sign_in(world):
    client = world.signed_in("mod")
    secret = _enrol(world, client)
    assert world.accounts.by_name("mod").totp_enabled
    client.post("/console/logout", data={"csrf": csrf(client, "/console/cases")})

    fresh = world.client()
    first = world.login(fresh, "mod")
    assert first.headers["location"] == "/console/login/totp"
    # Half signed in: nothing but the code page.
    assert fresh.get("/console/cases").headers["location"] == "/console/login/totp"
    token = csrf(fresh, "/console/login/totp")
    wrong = fresh.post("/console/login/totp", data={"code": "123456", "csrf": token})
    assert wrong.status_code == 401
    world.clock.advance(seconds=30)
    code = world.totp(secret)
    ok = fresh.post("/console/login/totp", data={"code": code, "csrf": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/console/cases"
    assert fresh.get("/console/cases").status_code == 200

    # The same code cannot be used again (replay), even in another session.
    again = world.client()
    world.login(again, "mod")
    replay = again.post("/console/login/totp",
                        data={"code": code, "csrf": csrf(again, "/console/login/totp")})
    assert replay.status_code == 401


def test_totp_failures_are_throttled(world):
    client = world.signed_in("mod")
    secret = _enrol(world, client)
    fresh = world.client()
    world.login(fresh, "mod")
    token = csrf(fresh, "/console/login/totp")
    for _ in range(5):
        fresh.post("/console/login/totp", data={"code": "000000", "csrf": token})
    world.clock.advance(seconds=60)
    blocked = fresh.post("/console/login/totp", data={"code": world.totp(secret), "csrf": token})
    assert blocked.status_code == 429


def test_admin_can_require_two_factor_for_everyone(world):
    admin = world.signed_in("boss", role="admin")
    moderator = world.signed_in("mod")
    admin.post("/console/admin/require-2fa",
               data={"required": "1", "csrf": csrf(admin, "/console/admin")})
    assert world.accounts.require_2fa()
    # Everyone without 2FA is held at enrolment until they enrol.
    for client in (admin, moderator):
        response = client.get("/console/cases")
        assert response.headers["location"] == "/console/account/2fa"
        page = client.get("/console/account/2fa")
        assert "管理员要求所有审核员使用两步验证" in page.text
    _enrol(world, moderator)
    assert moderator.get("/console/cases").status_code == 200
    assert admin.get("/console/cases").status_code == 303


def test_admin_resets_a_lost_phone(world):
    moderator = world.signed_in("mod")
    _enrol(world, moderator)
    admin = world.signed_in("boss", role="admin")
    mod_id = world.accounts.by_name("mod").moderator_id
    admin.post(f"/console/admin/moderators/{mod_id}/reset-2fa",
               data={"csrf": csrf(admin, "/console/admin")})
    assert not world.accounts.get(mod_id).totp_enabled
    assert moderator.get("/console/cases").status_code == 303  # sessions ended
    assert world.login(world.client(), "mod").headers["location"] == "/console/cases"


def test_sign_in_gets_a_new_session_id(world):
    world.moderator("mod")
    client = world.client()
    client.get("/console/login")
    before = client.cookies["wr_console"]
    planted_token = csrf(client, "/console/login")
    world.login(client, "mod")
    assert client.cookies["wr_console"] != before
    # The token from before sign-in no longer works.
    response = client.post("/console/logout", data={"csrf": planted_token})
    assert response.status_code == 403


def test_logout_ends_the_session_and_is_audited(world):
    client = world.signed_in("mod")
    saved = client.cookies["wr_console"]
    client.post("/console/logout", data={"csrf": csrf(client, "/console/cases")})
    assert client.get("/console/cases").status_code == 303
    actions = [e["action"] for e in world.accounts.audit_entries(20)]
    assert "logout" in actions and "login" in actions
    copy = world.client()
    copy.cookies.set("wr_console", saved, path="/console")
    assert copy.get("/console/cases").status_code == 303


def test_interface_in_chinese_and_english(world):
    client = world.client()
    assert "审核员登录" in client.get("/console/login").text
    assert "Moderator sign-in" in client.get(
        "/console/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    switch = client.get("/console/lang", params={"to": "en", "next": "/console/login"})
    assert switch.status_code == 303 and switch.headers["location"] == "/console/login"
    assert "Moderator sign-in" in client.get("/console/login").text
    # No open redirect through the language switch.
    for target in ("https://evil.example/", "//evil.example/", "/console\\..\\x"):
        away = client.get("/console/lang", params={"to": "zh", "next": target})
        assert away.headers["location"] == "/console/cases"
