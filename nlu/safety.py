"""The safety net: a multilingual lexicon of danger phrases that can only raise a message to
sensitive, never lower it, so one model's blind spot does not drop a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.tokenize import normalize

LEXICON_PATH = Path(__file__).resolve().parent / "safety_lexicon.yml"

#: Categories whose match means danger now: emergency numbers come first.
URGENT_CATEGORIES: frozenset[str] = frozenset({"urgent", "self_harm"})


@dataclass(frozen=True, slots=True)
class SafetyResult:
    """What the lexicon found: matched categories; ``urgent`` when one means danger now."""

    categories: tuple[str, ...] = ()

    @property
    def sensitive(self) -> bool:
        """True when any danger phrase matched."""
        return bool(self.categories)

    @property
    def urgent(self) -> bool:
        """True when a phrase means someone may be in danger now."""
        return any(c in URGENT_CATEGORIES for c in self.categories)


class SafetyNet:
    """Substring matching of normalised danger phrases, per category and language.

    Usage example::

        net = SafetyNet.load()
        net.check("老板扣了我的身份证不让走").categories   # ('forced_labour',)
    """

    def __init__(self, phrases: dict[str, list[str]]) -> None:
        self._phrases = {
            category: sorted({normalize(p) for p in items if normalize(p)})
            for category, items in phrases.items()
        }

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> SafetyNet:
        """Read the lexicon file (``categories: {name: {lang: [phrases]}}``).

        Raises:
            ValueError: if the file is malformed (names the problem).
        """
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
            raise ValueError(f"{path}: expected a 'categories' mapping")
        phrases: dict[str, list[str]] = {}
        for category, by_lang in data["categories"].items():
            if not isinstance(by_lang, dict):
                raise ValueError(f"{path}: category {category!r} must map languages to phrases")
            phrases[str(category)] = [str(p) for items in by_lang.values() for p in items or []]
        return cls(phrases)

    def check(self, text: str) -> SafetyResult:
        """The categories whose phrases occur in ``text``."""
        norm = normalize(text)
        if not norm:
            return SafetyResult()
        found = tuple(
            category for category, phrases in self._phrases.items()
            if any(phrase in norm for phrase in phrases)
        )
        return SafetyResult(categories=found)
