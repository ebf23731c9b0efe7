"""The knowledge base in memory: statutes and cards, and the documents the index is built from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.cards import CARDS_DIR, Card, check_cards, load_cards
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.instruments import CARD_LANGUAGES, INSTRUMENTS
from knowledge_base.statutes import SOURCES_DIR, StatutePassage, StatuteSource, load_statutes

#: Bumped whenever the document layout or the index files change.
INDEX_FORMAT = "6"


@dataclass(frozen=True, slots=True)
class Document:
    """One indexed text.

    Attributes:
        doc_id: ``card:<id>:<lang>`` or ``law:<key>``.
        kind: ``"card"`` or ``"statute"``.
        ref: what a hit points to: the card id or the statute key.
        cites: the citation keys behind it (a statute passage cites itself).
        jurisdiction: ``CN``, ``INTL`` ...
        topic: the card's topic; None for statute passages.
        lang: the language of ``text``.
        text: what is embedded and BM25-indexed.
    """

    doc_id: str
    kind: str
    ref: str
    cites: tuple[str, ...]
    jurisdiction: str
    topic: str | None
    lang: str
    text: str


@dataclass(slots=True)
class KnowledgeBase:
    """Statutes and cards, parsed and checked, plus the documents derived from them."""

    statutes: dict[str, StatuteSource]
    passages: dict[str, StatutePassage]
    cards: dict[str, Card]
    documents: list[Document] = field(default_factory=list)
    fingerprint: str = ""

    @classmethod
    def load(cls, sources_dir: Path = SOURCES_DIR, cards_dir: Path | None = None) -> KnowledgeBase:
        """Parse every source; refuse a card set with problems.

        Raises:
            SourceParseError: a statute file does not parse.
            KnowledgeBaseError: the cards have problems (all listed).
        """
        if cards_dir is None:
            cards_dir = CARDS_DIR if sources_dir == SOURCES_DIR else sources_dir / "cards"
        statutes = load_statutes(sources_dir)
        passages = {p.key: p for s in statutes.values() for p in s.passages}
        card_sources, problems = load_cards(cards_dir)
        problems += check_cards(card_sources, passages)
        if problems:
            raise KnowledgeBaseError(
                f"{len(problems)} problem(s) in the answer cards (run `workright kb check`):\n  "
                + "\n  ".join(problems[:50])
            )
        cards = {s.card.id: s.card for s in card_sources}
        kb = cls(statutes=statutes, passages=passages, cards=cards)
        kb.documents = build_documents(kb)
        kb.fingerprint = fingerprint(sources_dir, cards_dir)
        return kb


def build_documents(kb: KnowledgeBase) -> list[Document]:
    """The documents to index: one per statute article (and annex), one per card and card
    language."""
    docs: list[Document] = []
    for card in kb.cards.values():
        for lang in CARD_LANGUAGES:
            # The keywords (a worker's words for it) come before the text: only the opening
            # DENSE_CHARS characters of a document are embedded.
            parts = [card.title[lang], " ".join(card.keywords.get(lang, [])), card.text[lang]]
            docs.append(
                Document(
                    doc_id=f"card:{card.id}:{lang}", kind="card", ref=card.id,
                    cites=tuple(card.cites), jurisdiction=card.jurisdiction, topic=card.topic,
                    lang=lang, text="\n".join(p for p in parts if p),
                )
            )
    for passage in kb.passages.values():
        instrument = INSTRUMENTS[passage.code]
        head = f"{instrument.short_title('zh')} {passage.chapter}".strip()
        docs.append(
            Document(
                doc_id=f"law:{passage.key}", kind="statute", ref=passage.key,
                cites=(passage.key,), jurisdiction=instrument.jurisdiction, topic=None,
                lang="zh", text=f"{head}\n{passage.text}",
            )
        )
    return docs


def fingerprint(sources_dir: Path, cards_dir: Path) -> str:
    """A content hash of every source file and the index format (not of the encoder)."""
    digest = hashlib.sha256(f"format={INDEX_FORMAT}".encode())
    files = sorted(set(sources_dir.glob("*/*.md")) | set(cards_dir.glob("*.yml")))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
