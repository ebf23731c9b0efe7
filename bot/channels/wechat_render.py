"""Replies as WeChat text messages: length limits, numbered choices, and their memory.

WeChat has no buttons in a text conversation, so a reply's buttons become numbered
choices under a hint ("回复数字：") and a worker's digit is mapped back to the button's
value. The last choices offered to each worker are remembered in memory, keyed by
pseudonym, for ``ttl`` seconds (a restart forgets them; the worker then sees the menu
again on the next message).
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.i18n import Catalogue
from bot.messages import Reply

#: WeChat cuts text messages at 2048 bytes of UTF-8; keep a margin.
MAX_TEXT_BYTES = 2000
_BREAKS = ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ")
_DIGITS = re.compile(r"^\s*(\d{1,2}|[一二三四五六七八九十])\s*[.。、)）!！]?\s*$")
#: Voice recognition may write a spoken digit as a Chinese numeral.
_NUMERALS = {ch: n for n, ch in enumerate("一二三四五六七八九十", start=1)}


def utf8_len(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (WeChat's limits are in bytes)."""
    return len(text.encode("utf-8"))


def split_text(text: str, max_bytes: int = MAX_TEXT_BYTES) -> list[str]:
    """Split ``text`` into pieces of at most ``max_bytes`` UTF-8 bytes.

    Cuts at a paragraph, then a line, then a sentence or a space, and only as a last
    resort inside a word; no piece is empty.
    """
    if max_bytes < 8:
        raise ValueError(f"max_bytes must be at least 8, got {max_bytes}")
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if utf8_len(rest) <= max_bytes:
            pieces.append(rest)
            break
        # The longest prefix that fits, in characters.
        fit = len(rest.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"))
        window = rest[:fit]
        cut = 0
        for mark in _BREAKS:
            at = window.rfind(mark)
            if at > fit // 3:
                cut = at + len(mark)
                break
        cut = cut or fit
        piece = rest[:cut].strip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].strip()
    return pieces


def pack(parts: Sequence[str], max_bytes: int = MAX_TEXT_BYTES, sep: str = "\n\n") -> list[str]:
    """As few messages as possible: ``parts`` joined by ``sep``, each within ``max_bytes``.

    Parts keep their order; a part too long for one message is split first.
    """
    messages: list[str] = []
    current = ""
    for part in parts:
        for piece in split_text(part, max_bytes):
            candidate = f"{current}{sep}{piece}" if current else piece
            if utf8_len(candidate) <= max_bytes:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


@dataclass(frozen=True, slots=True)
class Rendered:
    """Replies turned into WeChat text messages.

    Attributes:
        messages: the texts to send, in order, each within the byte limit.
        choices: the button values behind the numbers 1..n (empty when none offered).
        words: (label, value) of buttons offered as words, on prompts that expect free text
            (where a digit is an answer, not a choice).
    """

    messages: tuple[str, ...]
    choices: tuple[str, ...]
    words: tuple[tuple[str, str], ...] = ()


class ReplyRenderer:
    """Renders :class:`~bot.messages.Reply` lists as WeChat text messages.

    Usage example::

        renderer = ReplyRenderer(catalogue)
        rendered = renderer.render(replies, "zh")
        rendered.messages   # ("…\\n\\n回复数字：\\n【1】举报问题\\n【2】找真人",)
        rendered.choices    # ("/report", "/human")

    Args:
        catalogue: interface texts (the numbered-choice hint, the source label).
        max_bytes: the byte limit of one message.
    """

    def __init__(self, catalogue: Catalogue, max_bytes: int = MAX_TEXT_BYTES) -> None:
        if max_bytes < 64:
            raise ValueError(f"max_bytes must be at least 64, got {max_bytes}")
        self.catalogue = catalogue
        self.max_bytes = max_bytes

    def render(self, replies: Sequence[Reply], lang: str) -> Rendered:
        """The messages for ``replies`` in ``lang``; choices are numbered across all."""
        choices: list[str] = []
        words: list[tuple[str, str]] = []
        parts: list[str] = []
        for reply in replies:
            body = reply.text.strip()
            # Card texts carry their sources already; add any citation they do not name.
            extra = [c.title for c in reply.citations if c.title and c.title not in body]
            if extra:
                label = self.catalogue.text("source_label", lang)
                body = f"{body}\n\n{label}: " + "；".join(extra)
            if reply.buttons and reply.expects_text:
                # Digits are answers here ("how many workers?"): offer the buttons as words.
                labels = []
                for button in reply.buttons:
                    words.append((button.label, button.value))
                    labels.append(f"【{button.label}】")
                menu = self.catalogue.text("wechat_words_hint", lang) + " " + " ".join(labels)
                body = f"{body}\n\n{menu}" if body else menu
            elif reply.buttons:
                lines = []
                for button in reply.buttons:
                    choices.append(button.value)
                    lines.append(f"【{len(choices)}】{button.label}")
                menu = self.catalogue.text("wechat_choices_hint", lang) + "\n" + "\n".join(lines)
                body = f"{body}\n\n{menu}" if body else menu
            if body:
                parts.append(body)
        return Rendered(
            messages=tuple(pack(parts, self.max_bytes)), choices=tuple(choices), words=tuple(words)
        )


class ChoiceMemory:
    """The numbered choices last offered to each worker, keyed by pseudonym, with a TTL.

    Used from the event loop only (no locking). Bounded: the least recently offered
    workers are forgotten beyond ``max_users``.

    Args:
        ttl: seconds a menu stays answerable by number.
        max_users: workers remembered at most.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        ttl: float = 3600.0,
        max_users: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        if max_users < 1:
            raise ValueError(f"max_users must be >= 1, got {max_users}")
        self._ttl = ttl
        self._max = max_users
        self._clock = clock
        self._menus: OrderedDict[
            str, tuple[float, tuple[str, ...], dict[str, str]]
        ] = OrderedDict()

    def remember(
        self, user_ref: str, choices: Sequence[str], words: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Offer ``choices`` (by number) and ``words`` (label, value) to ``user_ref``.

        Empty lists forget the previous menu.
        """
        self._menus.pop(user_ref, None)
        if not choices and not words:
            return
        by_label = {_fold(label): value for label, value in words}
        self._menus[user_ref] = (self._clock() + self._ttl, tuple(choices), by_label)
        while len(self._menus) > self._max:
            self._menus.popitem(last=False)

    def resolve(self, user_ref: str, text: str) -> str | None:
        """The button value a reply stands for, or None if ``text`` is not a choice.

        A digit picks a numbered choice: full-width digits, a Chinese numeral from voice
        recognition, and a trailing ``.``/``。``/``、``/``)`` are accepted (``"２"``,
        ``"1."``, ``"二。"``). A word offered on a free-text prompt picks its button.
        """
        entry = self._menus.get(user_ref)
        if entry is None:
            return None
        expires, choices, by_label = entry
        if self._clock() >= expires:
            del self._menus[user_ref]
            return None
        if by_label and _fold(text) in by_label:
            return by_label[_fold(text)]
        match = _DIGITS.match(unicodedata.normalize("NFKC", text))
        if match is None:
            return None
        token = match.group(1)
        number = _NUMERALS[token] if token in _NUMERALS else int(token)
        if 1 <= number <= len(choices):
            return choices[number - 1]
        return None

    def __len__(self) -> int:
        return len(self._menus)


def _fold(text: str) -> str:
    """A label or reply compared loosely: NFKC, case-folded, brackets and spaces dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())
