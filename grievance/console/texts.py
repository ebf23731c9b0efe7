"""The console's own interface texts (Chinese and English), from ``locales.yml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LOCALES_FILE = Path(__file__).resolve().parent / "locales.yml"
#: The console's languages; the first is the default.
CONSOLE_LANGUAGES: tuple[str, ...] = ("zh", "en")


class ConsoleTexts:
    """Looks up console texts by key and language.

    Usage example::

        texts = ConsoleTexts.load()
        texts.text("case_title", "en", id=7)   # "Case #7"

    Raises:
        ValueError: at load time, listing every key that lacks a language.
    """

    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        problems = [
            f"{key}: missing {', '.join(lang for lang in CONSOLE_LANGUAGES if lang not in value)}"
            for key, value in texts.items()
            if any(lang not in value for lang in CONSOLE_LANGUAGES)
        ]
        if problems:
            raise ValueError("console texts incomplete:\n  " + "\n  ".join(problems))
        self._texts = texts

    @classmethod
    def load(cls, path: Path = LOCALES_FILE) -> ConsoleTexts:
        """Read ``locales.yml`` and check that every key has every language."""
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in data.items()
        ):
            raise ValueError(f"{path}: expected a mapping of key -> {{zh, en}}")
        return cls({k: {str(lang): str(t) for lang, t in v.items()} for k, v in data.items()})

    def has(self, key: str) -> bool:
        """True if ``key`` exists."""
        return key in self._texts

    def text(self, key: str, lang: str, /, **values: Any) -> str:
        """The text for ``key`` in ``lang`` (the default language if ``lang`` is unknown).

        Raises:
            KeyError: ``key`` does not exist (a programming error, caught by the tests).
        """
        entry = self._texts[key]
        template = entry.get(lang) or entry[CONSOLE_LANGUAGES[0]]
        return template.format(**values) if values else template


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The console language: the cookie's choice, else the browser's, else Chinese."""
    if cookie in CONSOLE_LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CONSOLE_LANGUAGES:
            return code
    return CONSOLE_LANGUAGES[0]
