"""Overview cards: a question that only names a common problem gets the card on what to do.

老板不发工资怎么办 is the commonest question there is. Ranked on its words, a card on one
route (a court payment order) or one special case (a wage IOU) can come first, because its
text matches those words best; the worker needs the card that lists every route. Such a card
lists, per language, the phrases that name its problem (its ``overview`` field). A question
made of one of those phrases and words any question has (老板, 怎么办, 去哪里投诉, my boss,
what should I do …) is a bare statement of that problem, and :meth:`OverviewTable.match`
names the card. A question that says anything more (打白条, 三个月, 包工头 …) does not match:
it is ranked on its words as usual.

Usage example::

    table = OverviewTable.from_cards(kb.cards.values())
    table.match("老板不发工资怎么办", "zh")     # 'cn-lcl-77-unpaid-wages-what-to-do'
    table.match("老板打白条不发工资", "zh")     # None: 白条 is a case of its own
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from knowledge_base.cards import Card
from knowledge_base.tokenize import normalize, tokenize

# Words a question has besides its problem, beyond the BM25 stopwords: who did it, and
# asking what to do, whom to ask or where to go. In English also what is left of i'm, it's,
# they're … once split at the apostrophe.
_QUESTION_WORD_TEXT = {
    "zh": """
老板 厂里 工厂 厂子 厂 企业 公司里 单位里 上班 干活 打工 一直 总是 咋办 咋 办 办法 应该 去 哪里 哪儿
找 找谁 谁 投诉 举报 求助 帮忙 帮帮 帮 你好 您好
""",
    "en": """
boss company factory employer manager they them us has have had got get getting keeps keep
still where who go complain report help please m s re ve ll d
""",
}
QUESTION_WORDS: Mapping[str, frozenset[str]] = {
    lang: frozenset(text.split()) for lang, text in _QUESTION_WORD_TEXT.items()
}


class OverviewTable:
    """Each language's overview phrases, and the card each one names.

    Args:
        phrases: per language, ``(phrase, card id)`` pairs. A phrase named twice keeps its
            first card (:func:`knowledge_base.cards.check_cards` reports such a card set).
    """

    def __init__(self, phrases: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        self._phrases: dict[str, list[tuple[str, str]]] = {}
        for lang, pairs in phrases.items():
            seen: dict[str, str] = {}
            for phrase, card_id in pairs:
                if normalize(phrase):
                    seen.setdefault(normalize(phrase), card_id)
            # The longest phrase first: 没有签劳动合同 before 没有合同.
            self._phrases[lang] = sorted(seen.items(), key=lambda p: (-len(p[0]), p[0]))

    @classmethod
    def from_cards(cls, cards: Iterable[Card]) -> OverviewTable:
        """The table of every card with an ``overview`` field."""
        phrases: dict[str, list[tuple[str, str]]] = {}
        for card in cards:
            for lang, words in card.overview.items():
                phrases.setdefault(lang, []).extend((w, card.id) for w in words)
        return cls(phrases)

    def match(self, question: str, lang: str) -> str | None:
        """The card whose problem ``question`` names and nothing more, or None."""
        text = normalize(question)
        if not text:
            return None
        extra = QUESTION_WORDS.get(lang, frozenset())
        for phrase, card_id in self._phrases.get(lang, []):
            rest = _without(text, phrase, lang)
            if rest is not None and all(token in extra for token in tokenize(rest)):
                return card_id
        return None

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self._phrases.values())


def _without(text: str, phrase: str, lang: str) -> str | None:
    """``text`` with its first ``phrase`` cut out (a whole word or words outside Chinese), or
    None when it has none."""
    if lang == "zh":
        at = text.find(phrase)
        return None if at < 0 else f"{text[:at]} {text[at + len(phrase):]}"
    found = re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text)
    return None if found is None else f"{text[: found.start()]} {text[found.end():]}"
