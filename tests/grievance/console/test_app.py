"""The console wrapper over real HTTP: who may open what, CSRF, cookies, headers, timeouts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from grievance.console.app import SECURITY_HEADERS, console_secret
from tests.grievance.console.conftest import PASSWORD, Host, csrf

MODERATOR_PAGES = ["/console/cases", "/console/cases/{case}", "/console/dashboard",
                   "/console/account", "/console/account/password"]
ADMIN_PAGES = ["/console/admin"]
CASE_FORMS = {
    "/console/cases/{case}/assign": {"assignee": "me"},
    "/console/cases/{case}/status": {"status": "acknowledged"},
    "/console/cases/{case}/note": {"text": "called the hotline"},
    "/console/cases/{case}/reply": {"text": "We have your report."},
}
ADMIN_FORMS = {
    "/console/admin/require-2fa": {"required": "1"},
    "/console/admin/moderators": {"name": "new-mod", "role": "moderator"},
    "/console/admin/moderators/{other}/disable": {},
    "/console/export": {},
}


@pytest.fixture
def setup(world):
    case = world.case()
    moderator = world.signed_in("mod")
    admin = world.signed_in("boss", role="admin")
    other = world.moderator("other")
    return world, case, moderator, admin, other


@pytest.mark.parametrize("page", MODERATOR_PAGES + ADMIN_PAGES + ["/console/export"])
def test_logged_out_visitors_are_sent_to_the_login_page(setup, page):
    world, case, *_ = setup
    response = world.client().get(page.format(case=case))
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"


@pytest.mark.parametrize("form", list(CASE_FORMS) + list(ADMIN_FORMS))
def test_logged_out_posts_change_nothing(setup, form):
    world, case, _, _, other = setup
    client = world.client()
    token = csrf(client, "/console/login")  # even a valid anonymous token does not help
    data = (CASE_FORMS | ADMIN_FORMS)[form] | {"csrf": token}
    response = client.post(form.format(case=case, other=other), data=data)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    events = world.service.get_case(case, other).events
    assert [e.kind for e in events] == ["created"]
    assert world.accounts.get(other).active
    assert not world.accounts.require_2fa()


@pytest.mark.parametrize("page", MODERATOR_PAGES)
def test_moderators_and_admins_open_the_moderator_pages(setup, page):
    world, case, moderator, admin, _ = setup
    for client in (moderator, admin):
        response = client.get(page.format(case=case))
        assert response.status_code == 200, page


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_only_admins_open_the_admin_pages(setup, page):
    world, case, moderator, admin, _ = setup
    assert moderator.get(page).status_code == 403
    assert admin.get(page).status_code == 200


@pytest.mark.parametrize("form", list(ADMIN_FORMS))
def test_moderators_cannot_use_admin_forms(setup, form):
    world, case, moderator, admin, other = setup
    data = ADMIN_FORMS[form] | {"csrf": csrf(moderator, "/console/cases")}
    response = moderator.post(form.format(other=other), data=data)
    assert response.status_code == 403
    assert world.accounts.get(other).active
    assert not world.accounts.require_2fa()
    assert world.accounts.by_name("new-mod") is None
    assert "text/csv" not in response.headers["content-type"]


@pytest.mark.parametrize("form", list(ADMIN_FORMS))
def test_admins_use_admin_forms(setup, form):
    world, case, moderator, admin, other = setup
    data = ADMIN_FORMS[form] | {"csrf": csrf(admin, "/console/admin")}
    response = admin.post(form.format(other=other), data=data)
    assert response.status_code in (200, 303)


@pytest.mark.parametrize("form", list(CASE_FORMS))
def test_moderators_act_on_cases(setup, form):
    world, case, moderator, *_ = setup
    data = CASE_FORMS[form] | {"csrf": csrf(moderator, f"/console/cases/{case}")}
    response = moderator.post(form.format(case=case), data=data)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/console/cases/{case}?done=")


@pytest.mark.parametrize("form", list(CASE_FORMS) + list(ADMIN_FORMS) + ["/console/logout"])
def test_forms_without_the_csrf_token_are_rejected(setup, form):
    world, case, moderator, admin, other = setup
    data = (CASE_FORMS | ADMIN_FORMS).get(form, {})
    for bad in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
        response = admin.post(form.format(case=case, other=other), data=data | bad)
        assert response.status_code == 403
        assert "表单已过期或无效" in response.text
    assert [e.kind for e in world.service.get_case(case, other).events] == ["created"]
    assert world.accounts.get(other).active and not world.accounts.require_2fa()
    assert admin.get("/console/cases").status_code == 200  # still signed in


def test_a_token_from_another_session_is_rejected(setup):
    world, case, moderator, admin, _ = setup
    stolen = csrf(moderator, f"/console/cases/{case}")
    response = admin.post(f"/console/cases/{case}/note", data={"text": "x", "csrf": stolen})
    assert response.status_code == 403


def test_the_login_form_needs_its_token_too(world):
    world.moderator("mod")
    client = world.client()
    response = client.post("/console/login", data={"name": "mod", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/console/cases").status_code == 303


def test_cookie_is_signed_httponly_samesite_and_scoped(setup):
    world, *_ = setup
    client = world.client()
    response = client.get("/console/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain http on loopback; https requests get Secure
    forged = world.client()
    forged.cookies.set("wr_console", response.cookies["wr_console"][:-2] + "xx", path="/console")
    assert forged.get("/console/cases").status_code == 303


def test_security_headers_on_every_console_page(setup):
    world, case, moderator, *_ = setup
    for path in ("/console/login", f"/console/cases/{case}", "/console/dashboard"):
        response = moderator.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert "script-src" not in SECURITY_HEADERS["Content-Security-Policy"]  # default-src 'none'


def test_idle_sessions_end(setup):
    world, case, moderator, *_ = setup
    for _ in range(3):  # activity keeps the session alive well past one timeout
        world.clock.advance(minutes=25)
        assert moderator.get("/console/cases").status_code == 200
    world.clock.advance(minutes=31)
    response = moderator.get("/console/cases")
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_sessions_end_after_twelve_hours_even_when_busy(setup):
    world, case, moderator, *_ = setup
    elapsed = timedelta(0)
    while moderator.get("/console/cases").status_code == 200:
        assert elapsed <= timedelta(hours=12), "the session outlived its maximum age"
        world.clock.advance(minutes=20)
        elapsed += timedelta(minutes=20)
    assert elapsed > timedelta(hours=12)


def test_disabling_an_account_ends_its_sessions(setup):
    world, case, moderator, admin, _ = setup
    mod_id = world.accounts.by_name("mod").moderator_id
    token = csrf(admin, "/console/admin")
    admin.post(f"/console/admin/moderators/{mod_id}/disable", data={"csrf": token})
    assert moderator.get("/console/cases").status_code == 303
    assert world.login(world.client(), "mod").status_code == 401


def test_secret_from_the_environment_or_derived_never_constant(world, tmp_path):
    from pydantic import SecretStr

    from bot.config import Secrets
    from grievance.crypto import Vault
    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    a = console_secret(Host(settings, Vault(b"a" * 32)))
    b = console_secret(Host(settings, Vault(b"b" * 32)))
    assert a != b and len(a) == 32
    settings.secrets = Secrets(console_secret=SecretStr("s" * 40))
    assert console_secret(Host(settings, Vault(b"a" * 32))) == b"s" * 40
    settings.secrets = Secrets(console_secret=SecretStr("short"))
    with pytest.raises(ValueError, match="at least 32"):
        console_secret(Host(settings, Vault(b"a" * 32)))
