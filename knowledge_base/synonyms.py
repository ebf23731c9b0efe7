"""Query expansion: the words workers use, mapped to the words the law and the cards use.

A worker writes 欠薪 or 炒鱿鱼; the statute says 拖欠劳动报酬 and 解除劳动合同. BM25 cannot
match those on its own, and a small embedding model only partly does. The table in
``synonyms.yml`` lists, per language, everyday words and the legal terms they stand for;
:meth:`SynonymTable.expand` returns the legal terms a question calls for, which the
retriever adds to its query.

The same file lists slips of pinyin input (社宝 for 社保, 仲才 for 仲裁): what a worker typed
and the word they meant. :meth:`SynonymTable.correct` mends them first, and the retriever
searches the mended question, so the entries list only right words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.tokenize import normalize

SYNONYMS_PATH = Path(__file__).resolve().parent / "synonyms.yml"

#: Languages written without spaces: a colloquial word is matched as a substring.
_NO_SPACE_LANGS = frozenset({"zh", "ja", "km", "my", "th"})

#: In a language without spaces, ``扣~工资`` matches 扣工资 and also 扣三天工资, 扣了我200块工资:
#: up to this many characters (not spaces or punctuation) between the parts. Workers put
#: amounts and objects inside a verb phrase (拖了三个月工资), which plain substrings miss.
GAP_CHARS = 6
_GAP = "~"
_GAP_FILL = f"[^\\s{re.escape('，。！？、；：,.!?;:()（）')}]{{0,{GAP_CHARS}}}"


@dataclass(frozen=True, slots=True)
class SynonymEntry:
    """Everyday ``words`` that call for the ``legal`` terms.

    When ``context`` is not empty, one of its words must appear too (工伤 with 赔偿 means
    work-injury insurance benefits; 工伤 alone needs no expansion).
    """

    words: tuple[str, ...]
    legal: tuple[str, ...]
    context: tuple[str, ...] = ()


class SynonymTable:
    """Colloquial → legal terms, per language.

    Usage example::

        table = SynonymTable.load()
        table.expand("老板三个月不发工资了", "zh")   # ['拖欠劳动报酬', '劳动报酬', ...]

    Args:
        entries: the entries of each language.
        slips: per language, input slips and the words they stand for (社宝 → 社保).
    """

    def __init__(
        self, entries: dict[str, list[SynonymEntry]],
        slips: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.entries = entries
        self.slips = slips or {}
        # The longest slip first: 算不算工商 is mended before a shorter slip inside it could be.
        self._slips = {
            lang: sorted(((normalize(w), r) for w, r in pairs.items()), key=lambda p: -len(p[0]))
            for lang, pairs in self.slips.items()
        }
        self._patterns: dict[str, list[tuple[_Matcher, _Matcher | None, SynonymEntry]]] = {}
        for lang, items in entries.items():
            spaced = lang not in _NO_SPACE_LANGS
            self._patterns[lang] = [
                (_matcher(item.words, spaced),
                 _matcher(item.context, spaced) if item.context else None, item)
                for item in items
            ]

    @classmethod
    def load(cls, path: Path = SYNONYMS_PATH) -> SynonymTable:
        """Read a synonym file.

        Raises:
            KnowledgeBaseError: the file is missing or malformed (naming the entry).
        """
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise KnowledgeBaseError(f"cannot read the synonym table {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise KnowledgeBaseError(f"{path}: expected a mapping of language to entries")
        slips = _load_slips(path, data.pop("slips", {}))
        entries: dict[str, list[SynonymEntry]] = {}
        for lang, items in data.items():
            if not isinstance(items, list):
                raise KnowledgeBaseError(f"{path}: {lang}: expected a list of entries")
            parsed = []
            for number, item in enumerate(items, start=1):
                words = item.get("words") if isinstance(item, dict) else None
                legal = item.get("legal") if isinstance(item, dict) else None
                context = item.get("with", []) if isinstance(item, dict) else []
                if (
                    not words or not legal or not isinstance(context, list)
                    or not all(isinstance(w, str) for w in words + legal + context)
                ):
                    raise KnowledgeBaseError(
                        f"{path}: {lang} entry #{number}: needs non-empty lists of strings "
                        "'words' and 'legal' (and optionally 'with')"
                    )
                if any(w.startswith(_GAP) or w.endswith(_GAP) for w in words + context):
                    raise KnowledgeBaseError(
                        f"{path}: {lang} entry #{number}: a gap '{_GAP}' must stand between two "
                        "parts of a word"
                    )
                parsed.append(SynonymEntry(
                    tuple(normalize(w) for w in words), tuple(legal),
                    tuple(normalize(w) for w in context),
                ))
            entries[str(lang)] = parsed
        return cls(entries, slips)

    def correct(self, query: str, lang: str) -> str:
        """``query`` with its input slips mended (normalised, like :meth:`expand` reads it),
        or ``query`` itself when it has none."""
        text = normalize(query)
        mended = text
        for slip, right in self._slips.get(lang, []):
            mended = mended.replace(slip, right)
        return query if mended == text else mended

    def expand(self, query: str, lang: str) -> list[str]:
        """The legal terms ``query`` calls for, each once, in table order.

        Chinese (and other scripts without spaces) matches a word anywhere in the question;
        other languages match whole words, ignoring case. Input slips are mended first.
        """
        text = normalize(self.correct(query, lang))
        terms: list[str] = []
        for words, context, entry in self._patterns.get(lang, []):
            if words(text) and (context is None or context(text)):
                terms.extend(t for t in entry.legal if t not in terms)
        return terms


_Matcher = Callable[[str], bool]


def _load_slips(path: Path, data: Any) -> dict[str, dict[str, str]]:
    """The ``slips`` section: per language, a mapping of slip to the word meant.

    Raises:
        KnowledgeBaseError: it is not such a mapping, or a slip is empty or its own word.
    """
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path}: slips: expected a mapping of language to slips")
    slips: dict[str, dict[str, str]] = {}
    for lang, pairs in data.items():
        if not isinstance(pairs, dict) or not all(
            isinstance(w, str) and isinstance(r, str) and normalize(w) and normalize(w) != r
            for w, r in pairs.items()
        ):
            raise KnowledgeBaseError(
                f"{path}: slips: {lang}: expected a mapping of slip to the word meant, each "
                "non-empty and different"
            )
        slips[str(lang)] = dict(pairs)
    return slips


def _matcher(words: tuple[str, ...], spaced: bool) -> _Matcher:
    """Does a normalised text contain one of ``words`` (whole words when ``spaced``)?

    Without spaces a word is a substring, and ``~`` inside it stands for a short gap
    (:data:`GAP_CHARS`).
    """
    if spaced:
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")
    else:
        pattern = re.compile(
            "|".join(_GAP_FILL.join(re.escape(part) for part in w.split(_GAP)) for w in words)
        )
    return lambda text: pattern.search(text) is not None


@lru_cache(maxsize=1)
def default_synonyms() -> SynonymTable:
    """The bundled table, read once per process."""
    return SynonymTable.load()
