"""The terminal chat (``workright chat``): the same Assistant, on standard input/output."""

from __future__ import annotations

import secrets
import sys
from typing import TextIO

from bot.app import build_app
from bot.assistant import Assistant
from bot.config import Settings
from bot.messages import Message


def chat_loop(assistant: Assistant, stdin: TextIO, stdout: TextIO, user: str) -> None:
    """Read lines until EOF; a number picks a button of the last reply."""
    buttons: list[str] = []
    for turn, line in enumerate([None, *stdin], start=1):  # None: greet first
        text = "/start" if line is None else line.rstrip("\n")
        if text.strip().isdigit() and buttons and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]
        replies = assistant.handle(
            Message(channel="terminal", user=user, text=text, message_id=f"{user}-{turn}")
        )
        buttons = [b.value for r in replies for b in r.buttons]
        number = 0
        for reply in replies:
            # Number buttons across all replies of this turn so the digits stay unique.
            shown = [reply.text]
            for button in reply.buttons:
                number += 1
                shown.append(f"  [{number}] {button.label}")
            if reply.citations:
                shown.append("  — " + " · ".join(c.title for c in reply.citations))
            stdout.write("\n".join(shown) + "\n\n")
        stdout.write("> ")
        stdout.flush()


def run_terminal_chat(settings: Settings) -> int:
    """Run the terminal chat until end of input."""
    app = build_app(settings)
    try:
        chat_loop(app.assistant, sys.stdin, sys.stdout, user=secrets.token_hex(8))
    finally:
        app.close()
    return 0
