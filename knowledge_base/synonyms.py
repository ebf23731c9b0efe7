"""Query expansion: the words workers use, mapped to the words the law and the cards use.

A worker writes 欠薪 or 炒鱿鱼; the statute says 拖欠劳动报酬 and 解除劳动合同. BM25 cannot
match those on its own, and a small embedding model only partly does. The table in
``synonyms.yml`` lists, per language, everyday words and the legal terms they stand for;
:meth:`SynonymTable.expand` returns the legal terms a question calls for, which the
retriever adds to its query.

The same file lists slips of pinyin input (社宝 for 社保, 仲才 for 仲裁): what a worker typed
and the word they meant. :meth:`SynonymTable.correct` mends them first, and the retriever
searches the mended question, so the entries list only right words.

Cards and statutes are written in Chinese and English only. For a worker who writes
Vietnamese, Indonesian, Bengali, Khmer or Burmese, the file's ``bridges`` name the everyday
Chinese words their own words mean (nợ lương → 欠工资, lembur → 加班); :meth:`expand` returns
those words and the legal terms the Chinese entries give for them. Without a bridge, such a
question shares no word with any document, and BM25 has nothing to go on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from knowledge_base import strict_yaml
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.tokenize import normalize

SYNONYMS_PATH = Path(__file__).resolve().parent / "synonyms.yml"

#: Languages written without spaces: a colloquial word is matched as a substring.
_NO_SPACE_LANGS = frozenset({"zh", "ja", "km", "my", "th"})

#: Of those, the ones where a space may stand between phrases, or inside one, as the writer
#: likes (လစာ ဖြတ် and လစာဖြတ်, "cut the pay"): spaces are left out before matching.
_OPTIONAL_SPACE_LANGS = frozenset({"km", "my", "th"})

#: The language the bridges lead to: the one whose entries name the legal terms.
BRIDGE_TARGET = "zh"

#: A letter of a word, for whole-word matching: ``\w``, and the combining marks and the
#: Indic vowel signs it leaves out, so that a Bengali word ending in a vowel sign (ছুটি) ends
#: at a word boundary like any other.
_LETTER = "[\\w\u0300-\u036f\u0900-\u0dff]"

#: What may follow a word before it must end, in a language that adds endings to the word
#: itself: Bengali its case endings (ছুটিতে, "on leave"), Indonesian its enclitic pronouns
#: (gajinya, "his wages"). Elsewhere a word ends where it is written to.
_ENDINGS = {"bn": f"{_LETTER}*", "id": "(?:nya|ku|mu)?"}

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

        table.expand("Công ty nợ lương ba tháng", "vi")  # ['欠工资', '拖欠劳动报酬', ...]

    Args:
        entries: the entries of each language.
        slips: per language, input slips and the words they stand for (社宝 → 社保).
        bridges: per language, the Chinese words (:data:`BRIDGE_TARGET`) that its everyday
            words mean: ``{"vi": {"欠工资": ["nợ lương", ...]}}``.
    """

    def __init__(
        self, entries: dict[str, list[SynonymEntry]],
        slips: dict[str, dict[str, str]] | None = None,
        bridges: dict[str, dict[str, list[str]]] | None = None,
    ) -> None:
        self.entries = entries
        self.slips = slips or {}
        self.bridges = bridges or {}
        self._bridges: dict[str, list[tuple[_Matcher, str]]] = {
            lang: [
                (_matcher(tuple(normalize(w) for w in words), lang), meant)
                for meant, words in table.items()
            ]
            for lang, table in self.bridges.items()
        }
        # The longest slip first: 算不算工商 is mended before a shorter slip inside it could be.
        self._slips = {
            lang: sorted(((normalize(w), r) for w, r in pairs.items()), key=lambda p: -len(p[0]))
            for lang, pairs in self.slips.items()
        }
        self._patterns: dict[str, list[tuple[_Matcher, _Matcher | None, SynonymEntry]]] = {}
        for lang, items in entries.items():
            self._patterns[lang] = [
                (_matcher(item.words, lang),
                 _matcher(item.context, lang) if item.context else None, item)
                for item in items
            ]

    @classmethod
    def load(cls, path: Path = SYNONYMS_PATH) -> SynonymTable:
        """Read a synonym file.

        Raises:
            KnowledgeBaseError: the file is missing or malformed (naming the entry).
        """
        try:
            data: Any = strict_yaml.load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise KnowledgeBaseError(f"cannot read the synonym table {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise KnowledgeBaseError(f"{path}: expected a mapping of language to entries")
        slips = _load_slips(path, data.pop("slips", {}))
        bridges = _load_bridges(path, data.pop("bridges", {}))
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
        return cls(entries, slips, bridges)

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
        In a language with bridges, the Chinese words its words mean come first, then the
        legal terms the Chinese entries give for them.
        """
        text = normalize(self.correct(query, lang))
        terms: list[str] = []
        for words, context, entry in self._patterns.get(lang, []):
            if words(text) and (context is None or context(text)):
                terms.extend(t for t in entry.legal if t not in terms)
        terms.extend(t for t in self.bridge(text, lang) if t not in terms)
        return terms

    def bridge(self, query: str, lang: str) -> list[str]:
        """The Chinese words ``query``'s bridged words mean, then the legal terms the Chinese
        entries give for them, each once (none for a language without bridges): what the
        question says, in words an encoder that cannot read ``lang`` still can."""
        text = normalize(self.correct(query, lang))
        meant = [word for matches, word in self._bridges.get(lang, []) if matches(text)]
        if not meant:
            return []
        # Spaces keep one bridged word from completing another's gap pattern (欠~工资).
        terms = [*meant, *self.expand(" ".join(meant), BRIDGE_TARGET)]
        return [t for i, t in enumerate(terms) if t not in terms[:i]]


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


def _load_bridges(path: Path, data: Any) -> dict[str, dict[str, list[str]]]:
    """The ``bridges`` section: per language, Chinese word → the words that mean it.

    Raises:
        KnowledgeBaseError: it is not such a mapping, a word is empty or has a gap, or it
            gives bridges for Chinese itself.
    """
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{path}: bridges: expected a mapping of language to bridges")
    bridges: dict[str, dict[str, list[str]]] = {}
    for lang, table in data.items():
        if lang == BRIDGE_TARGET:
            raise KnowledgeBaseError(
                f"{path}: bridges: {lang}: a bridge leads to {BRIDGE_TARGET}; list "
                f"{BRIDGE_TARGET} words as entries"
            )
        if not isinstance(table, dict) or not all(
            isinstance(meant, str) and meant.strip() and isinstance(words, list) and words
            and all(isinstance(w, str) and normalize(w) for w in words)
            for meant, words in table.items()
        ):
            raise KnowledgeBaseError(
                f"{path}: bridges: {lang}: expected a mapping of a {BRIDGE_TARGET} word to a "
                "non-empty list of non-empty words"
            )
        if any(_GAP in w for ws in table.values() for w in ws):
            raise KnowledgeBaseError(
                f"{path}: bridges: {lang}: a gap '{_GAP}' works in Chinese entries only; list "
                "the forms a worker writes"
            )
        bridges[str(lang)] = {meant: list(words) for meant, words in table.items()}
    return bridges


def _matcher(words: tuple[str, ...], lang: str) -> _Matcher:
    """Does a normalised text in ``lang`` contain one of ``words``?

    In a language written with spaces, as whole words (allowing the language's
    :data:`_ENDINGS`). Without spaces a word is a substring, and ``~`` inside it stands for a
    short gap (:data:`GAP_CHARS`); where spaces are optional (:data:`_OPTIONAL_SPACE_LANGS`),
    a substring once the spaces are left out of both.
    """
    if lang not in _NO_SPACE_LANGS:
        pattern = re.compile(
            f"(?<!{_LETTER})(?:" + "|".join(re.escape(w) for w in words) + ")"
            + _ENDINGS.get(lang, "") + f"(?!{_LETTER})"
        )
    elif lang in _OPTIONAL_SPACE_LANGS:
        pattern = re.compile("|".join(re.escape("".join(w.split())) for w in words))
        return lambda text: pattern.search("".join(text.split())) is not None
    else:
        pattern = re.compile(
            "|".join(_GAP_FILL.join(re.escape(part) for part in w.split(_GAP)) for w in words)
        )
    return lambda text: pattern.search(text) is not None


@lru_cache(maxsize=1)
def default_synonyms() -> SynonymTable:
    """The bundled table, read once per process."""
    return SynonymTable.load()
