"""One catalogue of every interface text, in every language the assistant speaks.

Texts live in ``bot/locales/*.yml``, one file per area (``core.yml``, ``report.yml`` ...),
each mapping a key to its text per language::

    welcome:
      zh: 你好！...
      en: Hello! ...

A key must appear in one file only and in every language of :data:`LANGUAGES`; the
catalogue refuses to load otherwise, so a missing translation fails at start-up (and in
tests), never in front of a worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from knowledge_base.instruments import LANGUAGES

LOCALES_DIR = Path(__file__).resolve().parent / "locales"

#: Names of the languages in their own script, for the language menu.
LANGUAGE_NAMES: dict[str, str] = {
    "zh": "中文",
    "en": "English",
    "vi": "Tiếng Việt",
    "id": "Bahasa Indonesia",
    "bn": "বাংলা",
    "km": "ខ្មែរ",
    "my": "မြန်မာ",
}


class CatalogueError(ValueError):
    """A locale file is malformed, a key is duplicated or a translation is missing."""


class Catalogue:
    """Looks up interface texts by key and language.

    Usage example::

        catalogue = Catalogue.load()
        catalogue.text("welcome", "zh")
        catalogue.text("receipt", "en", code="7K4P-2M9Q-XR3T-8WJD")
    """

    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        self._texts = texts

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR) -> Catalogue:
        """Load and check every ``*.yml`` file in ``directory``.

        Raises:
            CatalogueError: listing every problem found at once.
        """
        texts: dict[str, dict[str, str]] = {}
        origin: dict[str, str] = {}
        problems: list[str] = []
        for path in sorted(directory.glob("*.yml")):
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(data, dict):
                problems.append(f"{path.name}: expected a mapping of keys to texts")
                continue
            for key, by_lang in data.items():
                if key in texts:
                    problems.append(f"{path.name}: key {key!r} already defined in {origin[key]}")
                    continue
                if not isinstance(by_lang, dict):
                    problems.append(f"{path.name}: {key!r} must map languages to texts")
                    continue
                missing = [lang for lang in LANGUAGES if not by_lang.get(lang)]
                if missing:
                    problems.append(f"{path.name}: {key!r} has no text in {', '.join(missing)}")
                texts[key] = {str(k): str(v).rstrip("\n") for k, v in by_lang.items()}
                origin[key] = path.name
        if problems:
            raise CatalogueError("locale catalogue problems:\n  " + "\n  ".join(problems))
        return cls(texts)

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def text(self, key: str, lang: str, **values: Any) -> str:
        """The text for ``key`` in ``lang`` (English if absent), formatted with ``values``.

        Raises:
            KeyError: if ``key`` is not in the catalogue (a programming error).
        """
        by_lang = self._texts[key]
        template = by_lang.get(lang) or by_lang["en"]
        return template.format(**values) if values else template

    def keys(self) -> list[str]:
        """Every key, sorted."""
        return sorted(self._texts)
