"""``workright moderator ...`` through the real command-line entry point."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
from grievance.accounts import ModeratorAccounts
from grievance.cli import open_accounts


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "config.yml"
    path.write_text(
        f"database:\n  url: sqlite:///{tmp_path}/cli.db\n"
        f"privacy:\n  key_file: {tmp_path}/secret.key\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("WORKRIGHT_DATABASE_URL", raising=False)
    monkeypatch.delenv("WORKRIGHT_SECRET_KEY", raising=False)
    return path


def _run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), "moderator", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _password(out: str) -> str:
    found = re.search(r"^  (\S+)$", out, re.M)
    assert found is not None
    return found.group(1)


def _accounts(config: Path) -> tuple[ModeratorAccounts, Callable[[], None]]:
    return open_accounts(load_settings(config))


def test_first_admin_then_list_disable_and_require_2fa(config, capsys):
    code, out, _ = _run(config, capsys, "add", "lin", "--role", "admin")
    assert code == 0
    password = _password(out)
    accounts, close = _accounts(config)
    try:
        account = accounts.authenticate("lin", password, client="cli-test")
        assert account.is_admin and account.must_change_password
    finally:
        close()
    assert _run(config, capsys, "add", "lin")[0] == 1
    assert _run(config, capsys, "add", "mei")[0] == 0
    code, out, _ = _run(config, capsys, "list")
    assert code == 0 and re.search(r"^lin\s+admin\s+yes\s+off", out, re.M)
    assert re.search(r"^mei\s+moderator", out, re.M) and password not in out
    assert _run(config, capsys, "disable", "mei")[0] == 0
    assert _run(config, capsys, "require-2fa", "on")[0] == 0
    code, out, _ = _run(config, capsys, "list")
    assert re.search(r"^mei\s+moderator\s+no", out, re.M)
    assert "two-factor required: yes" in out
    code, _, err = _run(config, capsys, "enable", "nobody")
    assert code == 1 and "no moderator named 'nobody'" in err


def test_reset_password_and_2fa(config, capsys):
    _run(config, capsys, "add", "lin")
    code, out, _ = _run(config, capsys, "reset-password", "lin")
    password = _password(out)
    assert _run(config, capsys, "reset-2fa", "lin")[0] == 0
    accounts, close = _accounts(config)
    try:
        assert accounts.authenticate("lin", password, client="cli-test").must_change_password
        actions = [e["action"] for e in accounts.audit_entries(20)]
        assert {"password_reset", "totp_reset"} <= set(actions)
    finally:
        close()


def test_role_must_be_known(config, capsys):
    with pytest.raises(SystemExit):
        main(["--config", str(config), "moderator", "add", "x", "--role", "root"])
    capsys.readouterr()
