"""End to end in real headless Chromium: a worker reports through the web chat, a moderator
signs in with TOTP, opens the case, assigns it, replies, and the reply appears in the
worker's chat. Screenshots of the queue and the dashboard go to ``test-artifacts/``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them); set
``WORKRIGHT_SKIP_BROWSER=1`` to skip on a machine without them.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from bot.run import channel_mounts
from bot.server import create_server
from grievance import models as m
from grievance.accounts import ModeratorAccounts, totp_code
from grievance.codes import MIN_HASH_COST
from grievance.db import utcnow
from grievance.service import GrievanceService
from grievance.stats import QuestionStats
from grievance.values import CaseFilter, NewReport
from tests.grievance.support import FakeClock

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "a long moderator passphrase"
ACCOUNT = (
    "老板扣了我们的身份证，说干满一年才还，晚上不让出宿舍。"
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
)
REPLY = "你好，我们收到了你的报告。请问你现在安全吗？我们明天上午会联系当地的法律援助。"


def _chromium(tmp: Path, width: int, height: int, *, phone: bool) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 f"--user-data-dir={tempfile.mkdtemp(dir=tmp)}",
                 f"--window-size={width},{height}", "--lang=zh-CN"):
        options.add_argument(flag)
    if phone:
        # A desktop window cannot be narrower than about 500 px: emulate a phone instead,
        # so that the page's viewport meta tag and a 390 px layout are what is tested.
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
        })
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.is_phone = phone  # type: ignore[attr-defined]  # read by _screenshot
    return driver


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start headless Chromium windows (a phone for the worker, a laptop for the NGO)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("WORKRIGHT_SKIP_BROWSER") == "1":
            pytest.skip("WORKRIGHT_SKIP_BROWSER=1")
        pytest.fail("needs /usr/bin/chromium and /usr/bin/chromedriver: run `make system-deps`")
    pytest.importorskip("selenium")
    drivers: list[Any] = []

    def start(width: int, height: int, phone: bool = False) -> Any:
        driver = _chromium(tmp_path, width, height, phone=phone)
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.quit()


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def _screenshot(driver: Any, name: str) -> Path:
    """A PNG of the whole page (up to 2,400 px tall) in ``test-artifacts/``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    if driver.is_phone:
        width = driver.execute_script("return window.innerWidth")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(height, 2400), "deviceScaleFactor": 2, "mobile": True})
        driver.save_screenshot(str(path))
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return path
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, 800)  # measure the page, not a window left tall before
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height + 140, 600), 2400))
    driver.save_screenshot(str(path))
    return path


class Chat:
    """The worker's side: the real web chat page."""

    def __init__(self, driver: Any, app: App) -> None:
        self.driver, self.app = driver, app

    def log(self) -> str:
        """Everything the chat shows, one message a line (scrolled out of view too)."""
        return str(self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#log .msg'))"
            ".map(e => e.textContent).join('\\n')"))

    def bot_messages(self) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot"))

    def _after(self, action: Callable[[], None]) -> None:
        before = len(self.bot_messages())
        action()
        _wait(self.driver, lambda d: len(self.bot_messages()) > before)

    def press(self, key: str) -> None:
        """Click the newest button labelled with catalogue text ``key`` (zh)."""
        self.press_label(self.app.catalogue.text(key, "zh"))

    def press_label(self, label: str) -> None:
        """Click the newest button showing ``label``."""
        from selenium.webdriver.common.by import By

        xpath = f"(//main[@id='log']//button[normalize-space()='{label}'])[last()]"
        try:
            button = _wait(self.driver, lambda d: d.find_element(By.XPATH, xpath), timeout=30)
        except Exception as exc:
            log = self.log()
            raise AssertionError(f"no button {label!r}; the chat shows:\n{log[-1500:]}") from exc
        self._after(button.click)

    def type(self, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        box = self.driver.find_element(By.ID, "text")
        self._after(lambda: box.send_keys(text, Keys.ENTER))


def _seed(app: App, moderators: dict[str, int]) -> None:
    """Twelve weeks of made-up cases and answered questions, so the screenshots show a
    working queue and dashboard (fictional data; nothing here is a real report)."""
    sessions, vault = app.services["sessions"], app.vault
    now = utcnow()
    start = now - timedelta(weeks=11, days=now.weekday(), hours=now.hour)
    clock = FakeClock(start)
    service = GrievanceService(sessions, vault, clock, code_hash_cost=MIN_HASH_COST)
    counter = QuestionStats(sessions, clock)
    rng = random.Random(20261121)
    plan = {"wages": (4, 9), "overtime": (3, 8), "working_hours": (1, 6),
            "injury_safety": (1, 6), "contract": (0, 3), "harassment_violence": (0, 2),
            "forced_labour": (0, 2), "social_insurance": (0, 3)}
    urgencies = ["past", "ongoing", "ongoing", "ongoing", "danger_now"]
    places = ["东莞", "深圳", "苏州", "佛山", "Ho Chi Minh City", "Dhaka"]
    steps: list[tuple[datetime, str, int]] = []
    keys: dict[int, dict[str, Any]] = {}
    for week in range(12):
        for category, (low, high) in plan.items():
            for _ in range(rng.randint(low, high)):
                key = len(keys)
                created = start + timedelta(weeks=week, hours=rng.uniform(0, 160))
                if created > now - timedelta(hours=1):
                    continue
                urgency = rng.choice(urgencies)
                keys[key] = {"category": category, "urgency": urgency,
                             "place": rng.choice(places), "mod": rng.choice(list(moderators))}
                steps.append((created, "open", key))
                ack = created + timedelta(days=rng.uniform(0.3, 9.5))
                if rng.random() < 0.85 and ack < now:
                    steps.append((ack, "ack", key))
                    done = ack + timedelta(days=rng.uniform(2, 30))
                    if rng.random() < 0.5 and done < now:
                        steps.append((done, "resolve", key))
    ids: dict[int, int] = {}
    for at, action, key in sorted(steps):
        clock.now = at
        info = keys[key]
        moderator = moderators[info["mod"]]
        if action == "open":
            ids[key] = service.open_case(NewReport(
                category=info["category"], urgency=info["urgency"], jurisdiction="CN",
                lang="zh", account="（测试数据）工资拖欠，加班没有加班费。",
                location=info["place"], worker_ref=f"seed-{key}")).case_id
        elif action == "ack":
            service.acknowledge(ids[key], moderator)
            service.assign(ids[key], moderator, moderator)
        else:
            service.change_status(ids[key], moderator, "resolved")
    topics = {"overtime": 9, "wages": 8, "contract": 5, "rest_leave": 4, "social_insurance": 3,
              "injury_safety": 3, "dismissal_severance": 2, "maternity": 1}
    for week in range(12):
        clock.now = start + timedelta(weeks=week, days=2)
        for topic, mean in topics.items():
            for _ in range(rng.randint(0, mean)):
                counter.record(topic)


def test_report_in_web_chat_then_reply_from_the_console(make_app, live_server, browsers):
    app = make_app()
    accounts = ModeratorAccounts(app.services["sessions"], app.vault, app.services["grievance"])
    moderators = {}
    for name, role in (("lin", "admin"), ("mei", "moderator"), ("zhou", "moderator")):
        moderator_id, one_time = accounts.create(name, role=role)
        accounts.change_password(moderator_id, one_time, PASSWORD)
        moderators[name] = moderator_id
    secret = accounts.begin_totp(moderators["lin"])
    step = int(utcnow().timestamp()) // 30
    accounts.confirm_totp(moderators["lin"], totp_code(secret, step))
    _seed(app, moderators)

    api = create_server(app, channel_mounts(app.settings))
    with live_server(api) as server:
        # -- the worker, on a phone: report through the web chat's buttons ---------------
        worker = browsers(390, 844, phone=True)
        worker.get(server.url + "/")
        chat = Chat(worker, app)
        _wait(worker, lambda d: len(chat.bot_messages()) >= 1)
        chat.press_label("中文")  # the language menu of the welcome
        chat.type("/report")
        chat.press("report_btn_start")
        chat.type(ACCOUNT)
        chat.press("report_btn_done")
        chat.press("report_cat_forced_labour")
        chat.press("report_urgency_danger_now")
        chat.type("鸿发电子厂")
        chat.press("report_btn_skip")
        chat.press("report_btn_skip")
        chat.press("report_btn_yes")
        chat.press("report_btn_send")
        saved = app.catalogue.text("report_saved", "zh")
        _wait(worker, lambda d: saved in chat.log())
        case_id = max(c.case_id for c in app.services["grievance"].list_cases(
            CaseFilter(limit=10_000)))

        # -- the moderator: sign in with password and TOTP --------------------------------
        from selenium.webdriver.common.by import By

        mod = browsers(1280, 900)
        mod.get(server.url + "/console/cases")
        _wait(mod, lambda d: d.current_url.endswith("/console/login"))
        mod.find_element(By.NAME, "name").send_keys("lin")
        mod.find_element(By.NAME, "password").send_keys(PASSWORD)
        mod.find_element(By.CSS_SELECTOR, "button.primary").click()
        _wait(mod, lambda d: d.current_url.endswith("/console/login/totp"))
        code = totp_code(secret, max(int(utcnow().timestamp()) // 30, step + 1))
        mod.find_element(By.NAME, "code").send_keys(code)
        mod.find_element(By.CSS_SELECTOR, "button.primary").click()
        _wait(mod, lambda d: d.current_url.endswith("/console/cases"))
        queue_shot = _screenshot(mod, "console-queue.png")

        # The worker's case is the newest urgent one: filter the queue and open it.
        from selenium.webdriver.support.ui import Select

        Select(mod.find_element(By.NAME, "urgency")).select_by_value("danger_now")
        Select(mod.find_element(By.NAME, "status")).select_by_value("new")
        mod.find_element(By.CSS_SELECTOR, ".filters button.primary").click()
        # The case is on the unfiltered page too: wait for the filtered page, or the link
        # found may belong to the page being replaced (a stale element when clicked).
        _wait(mod, lambda d: "urgency=danger_now" in d.current_url)
        link = _wait(mod, lambda d: d.find_element(
            By.CSS_SELECTOR, f"a[href='/console/cases/{case_id}']"))
        link.click()
        _wait(mod, lambda d: "老板扣了我们的身份证" in d.page_source)
        account = mod.find_element(By.CSS_SELECTOR, ".account").text
        assert "<script>document.title='pwned'</script>" in account  # shown as text, inert
        assert "pwned" not in mod.title

        mod.find_element(By.ID, "assign-me").click()
        _wait(mod, lambda d: "done=assigned" in d.current_url)
        Select(mod.find_element(By.NAME, "status")).select_by_value("acknowledged")
        mod.find_element(By.ID, "change-status").click()
        _wait(mod, lambda d: "done=status" in d.current_url)
        mod.find_element(By.CSS_SELECTOR, "form[action$='/reply'] textarea").send_keys(REPLY)
        mod.find_element(By.ID, "send-reply").click()
        _wait(mod, lambda d: "done=reply" in d.current_url)
        _screenshot(mod, "console-case.png")

        # -- the reply arrives in the worker's open chat (the page polls every 5 s) -------
        _wait(worker, lambda d: any(
            REPLY in (e.get_attribute("textContent") or "")
            for e in d.find_elements(By.CSS_SELECTOR, "#log .msg.moderator")), timeout=30)
        _screenshot(worker, "webchat-reply.png")
        # Shown once, under the header that says who writes; the page's acknowledgement
        # marks it delivered (until then a lost response would bring it back).
        shown = [e.get_attribute("textContent") or ""
                 for e in worker.find_elements(By.CSS_SELECTOR, "#log .msg.moderator")]
        assert len(shown) == 1 and shown[0].startswith("【WorkRight 工作人员回复】")

        def delivered(_driver) -> bool:
            with app.services["sessions"]() as session:
                statuses = session.execute(
                    select(m.Outbox.status).where(m.Outbox.case_id == case_id)
                ).scalars().all()
            return statuses == [m.OUTBOX_SENT]

        _wait(worker, delivered, timeout=30)

        # -- the dashboard -----------------------------------------------------------------
        mod.get(server.url + "/console/dashboard")
        _wait(mod, lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
        dashboard_shot = _screenshot(mod, "console-dashboard.png")
        mod.get(server.url + "/console/lang?to=zh&next=/console/dashboard")
        _wait(mod, lambda d: "统计" in d.title)
        _screenshot(mod, "console-dashboard-zh.png")

        phone = browsers(390, 844, phone=True)
        phone.get(server.url + "/console/login")
        phone.find_element(By.NAME, "name").send_keys("mei")
        phone.find_element(By.NAME, "password").send_keys(PASSWORD)
        phone.find_element(By.CSS_SELECTOR, "button.primary").click()
        _wait(phone, lambda d: d.current_url.endswith("/console/cases"))
        assert phone.execute_script("return window.innerWidth") == 390
        wide = phone.execute_script(
            "return Array.from(document.querySelectorAll('body *'))"
            ".filter(e => e.getBoundingClientRect().right > 391 && !Array.from(e.children)"
            ".some(c => c.getBoundingClientRect().right > 391))"
            ".slice(0, 8).map(e => e.tagName + '.' + e.className)")
        width = phone.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the queue must not scroll sideways on a phone: {wide}"
        _screenshot(phone, "console-queue-phone.png")

    assert queue_shot.stat().st_size > 10_000 and dashboard_shot.stat().st_size > 10_000
    audit = {e["action"] for e in accounts.audit_entries(500)}
    assert {"login", "view_queue", "view_case", "assigned", "acknowledged", "reply_sent",
            "view_dashboard"} <= audit
