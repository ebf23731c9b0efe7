"""Replies as Telegram messages: plain text cut below 4,096 characters, inline keyboards.

Plain text means no ``parse_mode``: nothing a worker, a card or a moderator writes can be
misread as Markdown or HTML, so there is nothing to escape and no escaping to forget.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.messages import Button, Reply

MAX_TEXT = int(MessageLimit.MAX_TEXT_LENGTH)
MAX_CALLBACK_DATA = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)
# Where a long text may be cut, best first: paragraphs, lines, sentences, words.
_BREAKS = (r"(?<=\n\n)", r"(?<=\n)", r"(?<=[。！？；])|(?<=[.!?;] )", r"(?<= )")



def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units), never less than ``len(text)``."""
    return len(text.encode("utf-16-le")) // 2


def _hard_cut(text: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        width = _units(ch)
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += width
    return [*pieces, "".join(current)]


def _split(text: str, limit: int, level: int) -> list[str]:
    if _units(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        return _hard_cut(text, limit)
    out: list[str] = []
    current = ""
    for piece in (p for p in re.split(_BREAKS[level], text) if p):
        if _units(current + piece) <= limit:
            current += piece
            continue
        if current:
            out.append(current)
        current = ""
        if _units(piece) <= limit:
            current = piece
        else:
            # The tail of an over-long piece may share a message with what follows.
            *full, current = _split(piece, limit, level + 1)
            out.extend(full)
    if current:
        out.append(current)
    return out


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` characters.

    Cuts at paragraph boundaries where possible, then at line, sentence and word
    boundaries, and only a single unbroken run longer than ``limit`` mid-word.

    Raises:
        ValueError: ``limit`` is below 2 (a character may take two UTF-16 units).
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2, got {limit}")
    return [chunk.strip() for chunk in _split(text, limit, 0) if chunk.strip()]


class ButtonCodec:
    """Button values as ``callback_data``, which Telegram limits to 64 bytes.

    A value that fits is sent as it is, so a press still works after a restart and in any
    bot process. A longer one is replaced by a short token remembered here (the latest
    ``capacity`` of them); an unknown token decodes to None ("this button has expired").
    """

    PREFIX = "~"

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._values: OrderedDict[str, str] = OrderedDict()

    def encode(self, value: str) -> str:
        """The ``callback_data`` for a button value."""
        if len(value.encode()) <= MAX_CALLBACK_DATA and not value.startswith(self.PREFIX):
            return value
        token = self.PREFIX + hashlib.sha256(value.encode()).hexdigest()[:24]
        self._values[token] = value
        self._values.move_to_end(token)
        while len(self._values) > self._capacity:
            self._values.popitem(last=False)
        return token

    def decode(self, data: str) -> str | None:
        """The button value for ``callback_data``; None for an expired token."""
        if not data.startswith(self.PREFIX):
            return data
        return self._values.get(data)


def keyboard(buttons: Sequence[Button], codec: ButtonCodec) -> InlineKeyboardMarkup | None:
    """An inline keyboard: one button a row, two when there are many short labels."""
    if not buttons:
        return None
    keys = [InlineKeyboardButton(b.label, callback_data=codec.encode(b.value)) for b in buttons]
    per_row = 2 if len(keys) >= 4 and all(len(b.label) <= 16 for b in buttons) else 1
    return InlineKeyboardMarkup([keys[i : i + per_row] for i in range(0, len(keys), per_row)])


def render(reply: Reply, codec: ButtonCodec) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """The Telegram messages for one reply: text chunks, the keyboard on the last one.

    Citations are already in the reply's text (its source line), so they need no extra
    message.
    """
    chunks = split_text(reply.text) or ["…"]
    markup = keyboard(reply.buttons, codec)
    return [(chunk, markup if n == len(chunks) - 1 else None) for n, chunk in enumerate(chunks)]


