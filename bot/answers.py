"""Turning search hits into replies: a card (or article) in short form, its citation, the
next steps, and buttons for the law's text and further results."""

from __future__ import annotations

from bot.i18n import Catalogue
from bot.messages import Button, Citation, Reply
from knowledge_base.cards import Card
from knowledge_base.corpus import KnowledgeBase
from knowledge_base.instruments import CARD_LANGUAGES, INSTRUMENTS, cite_text, parse_key
from knowledge_base.retrieval import Hit

#: Characters of a statute article shown in an answer before "show the law".
SHORT_LAW = 280


def citation(key: str, lang: str) -> Citation:
    """The citation of ``key``: ``《劳动合同法》第八十二条 / Labour Contract Law art. 82``."""
    ck = parse_key(key)
    local = cite_text(key, lang if lang in ("zh", "en") else "en")
    english = cite_text(key, "en")
    title = local if local == english else f"{local} / {english}"
    if lang != "zh" and ck.instrument.jurisdiction == "CN":
        title = f"{english} / {cite_text(key, 'zh')}"
    return Citation(key=key, title=title, url=INSTRUMENTS[ck.code].url)


def card_language(lang: str) -> str:
    """The card language for a reply language (cards exist in zh and en for now)."""
    return lang if lang in CARD_LANGUAGES else "en"


class AnswerBuilder:
    """Renders hits as replies in the worker's language.

    Args:
        kb: the knowledge base (cards and statute passages).
        catalogue: interface texts.
    """

    def __init__(self, kb: KnowledgeBase, catalogue: Catalogue) -> None:
        self.kb = kb
        self.catalogue = catalogue

    def answer(self, hit: Hit, lang: str, more: bool) -> Reply:
        """The reply for the best hit, with "show the law" and, if ``more``, "more results"."""
        text = self.render(hit.ref, lang)
        buttons = [Button(self.catalogue.text("btn_law", lang), f"law:{hit.cites[0]}")]
        if more:
            buttons.append(Button(self.catalogue.text("btn_more", lang), "more"))
        cites = hit.cites if hit.kind == "card" else hit.cites[:1]
        return Reply(
            text=text,
            buttons=tuple(buttons),
            citations=tuple(citation(key, lang) for key in cites),
        )

    def render(self, ref: str, lang: str) -> str:
        """The text of a card or an article in short form, with its source line."""
        card = self.kb.cards.get(ref)
        if card is not None:
            return self._render_card(card, lang)
        passage = self.kb.passages[ref]
        body = passage.text
        if len(body) > SHORT_LAW:
            body = body[:SHORT_LAW].rstrip() + "…"
        source = self.catalogue.text("source_label", lang)
        return f"{body}\n\n{source}: {citation(ref, lang).title}"

    def _render_card(self, card: Card, lang: str) -> str:
        card_lang = card_language(lang)
        parts = []
        if card_lang != lang:
            parts.append(self.catalogue.text("card_in_english", lang))
        parts.append(card.title[card_lang])
        parts.append(card.text[card_lang].strip())
        actions = card.actions.get(card_lang) or []
        if actions:
            lines = "\n".join(f"{n}. {a}" for n, a in enumerate(actions, start=1))
            parts.append(f"{self.catalogue.text('actions_label', lang)}\n{lines}")
        sources = "；".join(citation(key, lang).title for key in card.cites)
        parts.append(f"{self.catalogue.text('source_label', lang)}: {sources}")
        return "\n\n".join(parts)

    def title(self, ref: str, lang: str) -> str:
        """A short label for a hit: the card title, or the citation of an article."""
        card = self.kb.cards.get(ref)
        if card is not None:
            return card.title[card_language(lang)]
        return cite_text(ref, "zh" if lang == "zh" else "en")

    def law(self, key: str, lang: str) -> Reply:
        """The full official text of an article ("show the law")."""
        passage = self.kb.passages.get(key)
        if passage is None:
            return Reply(text=self.catalogue.text("law_not_found", lang))
        instrument = INSTRUMENTS[passage.code]
        source = self.kb.statutes[passage.code]
        dated = f"（{source.dates[-1]}）" if source.dates else ""
        header = self.catalogue.text("law_header", lang)
        text = f"{header}\n{instrument.title('zh')}{dated}\n\n{passage.text}"
        return Reply(text=text, citations=(citation(key, lang),))

    def more(self, refs: list[str], lang: str) -> Reply:
        """The further results as buttons (each opens that card or article)."""
        if not refs:
            return Reply(text=self.catalogue.text("no_more", lang))
        buttons = tuple(Button(self.title(ref, lang)[:60], f"open:{ref}") for ref in refs)
        return Reply(text=self.catalogue.text("more_header", lang), buttons=buttons)

    def topic_of(self, hit: Hit) -> str:
        """The topic of a hit: the card's, or that of the first card citing the article."""
        if hit.topic:
            return hit.topic
        for card in self.kb.cards.values():
            if hit.ref in card.cites:
                return card.topic
        return "other"
