"""Small helpers shared by the report, status and delete flows."""

from __future__ import annotations

import re

from bot.i18n import Catalogue
from knowledge_base.instruments import LANGUAGES

#: Button values are short, language-independent tokens: ``report:cat:wages``.
TOKEN_RE = re.compile(r"^(report|status|delete):[a-z_:]+$")
_PUNCT_RE = re.compile(r"[\s.!。！,，、;；:：?？'\"“”‘’]+")
_COMMANDS = frozenset({"/cancel", "/stop", "/quit"})


def _norm(text: str) -> str:
    return _PUNCT_RE.sub(" ", text.casefold()).strip()


class CancelWords:
    """Recognises "stop" in every language: the whole message must be a cancel word.

    The words come from the catalogue key ``cancel_words`` (comma-separated per
    language), so translators can add to them; ``/cancel`` and ``<flow>:cancel`` button
    values always count.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        words: set[str] = set()
        for lang in LANGUAGES:
            words.update(_norm(word) for word in catalogue.text("cancel_words", lang).split(","))
        words.discard("")
        self._words = frozenset(words)

    def __call__(self, text: str) -> bool:
        """True when ``text`` asks to stop the flow."""
        stripped = text.strip()
        lowered = stripped.lower()
        if lowered in _COMMANDS or lowered.endswith(":cancel") and TOKEN_RE.match(lowered):
            return True
        return len(stripped) <= 40 and _norm(stripped) in self._words


def is_token(text: str) -> bool:
    """True for a button value of the flows (never taken as the worker's own words)."""
    return TOKEN_RE.match(text) is not None


def is_command(text: str) -> bool:
    """True for a slash command such as ``/help``."""
    return text.startswith("/")


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters, and whether it was cut."""
    return (text, False) if len(text) <= limit else (text[:limit], True)
