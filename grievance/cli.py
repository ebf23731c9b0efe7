"""``workright moderator ...``: console accounts from the command line.

``bot/cli.py`` calls :func:`add_commands`; each sub-command sets ``handler(settings, args)``.
The first admin is made here (``workright moderator add NAME --role admin``), since the
console has no account yet to sign in with. A one-time password is printed once; it
must be changed at first sign-in.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from grievance.accounts import ModeratorAccount, ModeratorAccounts
from grievance.crypto import Vault
from grievance.db import make_engine, make_session_factory, migrate
from grievance.models import ROLES
from grievance.service import GrievanceService

#: ``handler(settings, args) -> exit code``; settings is ``bot.config.Settings``.
Handler = Callable[[Any, argparse.Namespace], int]


def open_accounts(settings: Any) -> tuple[ModeratorAccounts, Callable[[], None]]:
    """Accounts on the configured database (migrated first) and a function to close it.

    Args:
        settings: ``bot.config.Settings`` (typed loosely: grievance does not import bot).
    """
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    vault: Vault = settings.open_vault()
    accounts = ModeratorAccounts(sessions, vault, GrievanceService(sessions, vault))
    return accounts, engine.dispose


def _find(accounts: ModeratorAccounts, name: str, err: TextIO) -> ModeratorAccount | None:
    account = accounts.by_name(name)
    if account is None:
        err.write(f"workright: no moderator named {name!r} (see `workright moderator list`)\n")
    return account


def run(
    settings: Any,
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one ``moderator`` sub-command; returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    accounts, close = open_accounts(settings)
    try:
        return _run(accounts, args, out, err)
    finally:
        close()


def _run(accounts: ModeratorAccounts, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    action = args.moderator_command
    if action == "add":
        try:
            _, password = accounts.create(args.name, role=args.role)
        except ValueError as exc:
            err.write(f"workright: {exc}\n")
            return 1
        out.write(
            f"Created {args.role} {args.name!r}.\n"
            f"One-time password (shown only now; it must be changed at first sign-in):\n"
            f"  {password}\n"
            f"Sign in at /console/login.\n"
        )
        return 0
    if action == "list":
        out.write(f"{'name':<24} {'role':<10} {'active':<7} {'2fa':<4} last sign-in\n")
        for a in accounts.list_accounts():
            last = a.last_login_at.strftime("%Y-%m-%d %H:%M") if a.last_login_at else "-"
            out.write(
                f"{a.name:<24} {a.role:<10} {'yes' if a.active else 'no':<7} "
                f"{'on' if a.totp_enabled else 'off':<4} {last}\n"
            )
        out.write(f"two-factor required: {'yes' if accounts.require_2fa() else 'no'}\n")
        return 0
    if action == "require-2fa":
        required = args.state == "on"
        accounts.set_require_2fa(required, actor_id=None)
        out.write(f"two-factor sign-in is now {'required' if required else 'optional'}\n")
        return 0
    account = _find(accounts, args.name, err)
    if account is None:
        return 1
    if action in ("disable", "enable"):
        accounts.set_active(account.moderator_id, action == "enable", actor_id=None)
        out.write(f"{account.name!r} is now {action}d\n")
    elif action == "reset-password":
        password = accounts.reset_password(account.moderator_id, actor_id=None)
        out.write(f"New one-time password for {account.name!r} (shown only now):\n  {password}\n")
    elif action == "reset-2fa":
        accounts.reset_totp(account.moderator_id, actor_id=None)
        out.write(f"two-factor sign-in of {account.name!r} was reset; they enrol again\n")
    return 0


def add_commands(subparsers: Any) -> None:
    """Add ``workright moderator {add,list,disable,enable,reset-password,reset-2fa,require-2fa}``.

    Args:
        subparsers: the ``workright`` parser's sub-parsers action.
    """
    parser = subparsers.add_parser("moderator", help="moderator console accounts")
    sub = parser.add_subparsers(dest="moderator_command", required=True)
    add = sub.add_parser("add", help="create an account and print a one-time password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="moderator")
    sub.add_parser("list", help="list accounts")
    for name, help_text in (
        ("disable", "disable an account (ends its sessions)"),
        ("enable", "enable an account again"),
        ("reset-password", "print a new one-time password (ends its sessions)"),
        ("reset-2fa", "remove an account's two-factor secret (a lost phone)"),
    ):
        one = sub.add_parser(name, help=help_text)
        one.add_argument("name")
    require = sub.add_parser("require-2fa", help="require two-factor sign-in for everyone")
    require.add_argument("state", choices=("on", "off"))
    parser.set_defaults(handler=run)
