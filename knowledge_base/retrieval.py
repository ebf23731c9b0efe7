"""Hybrid retrieval: dense and BM25 rankings fused by reciprocal rank, filtered by
jurisdiction, grouped so one card or article appears once, with cards preferred."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from knowledge_base.encoders import Encoder
from knowledge_base.index import HybridIndex
from knowledge_base.synonyms import SynonymTable, default_synonyms

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a card or a statute article.

    Attributes:
        ref: the card id or the statute key.
        kind: ``"card"`` or ``"statute"``.
        cites: the citation keys it rests on (the first is the main one).
        score: the fused score (only comparable within one search).
        similarity: cosine similarity to the query of its best-matching own text (a card's
            words in either language, or the article); example questions do not count.
        lexical: the best BM25 score among its documents.
        topic: the card's topic, None for statute articles.
        jurisdiction: ``CN``, ``INTL`` ...
    """

    ref: str
    kind: str
    cites: tuple[str, ...]
    score: float
    similarity: float
    lexical: float
    topic: str | None
    jurisdiction: str


class Retriever(Protocol):
    """Finds the cards and articles that answer a question.

    Usage example::

        hits = retriever.search("公司不和我签劳动合同怎么办", lang="zh", jurisdiction="CN", k=3)
        hits[0].cites   # ('CN-LCL:82', ...)
    """

    def search(self, query: str, lang: str, jurisdiction: str | None, k: int) -> list[Hit]:
        """The best ``k`` hits for ``query`` within ``jurisdiction`` (None: all)."""
        ...


class HybridRetriever:
    """The default :class:`Retriever`: e5 + faiss and BM25, fused.

    Args:
        index: the loaded hybrid index.
        encoder: the encoder the index was built with.
        candidates: how many results each ranking contributes before fusion.
        card_weight: multiplier on cards' fused score, so a relevant plain-language card
            comes before the article it explains.
        same_lang_bonus: extra weight for a card document in the question's language.
        synonyms: colloquial → legal terms added to the query (None: the bundled table;
            an empty ``SynonymTable({})`` turns expansion off).
        expansion_weight: weight of the legal terms' BM25 score relative to the question's
            own words (a hint, not the question).
        expand_dense: also append the legal terms to the text that is embedded (the small
            encoder does not map 炒鱿鱼 to 解除劳动合同 by itself).

    Raises:
        ValueError: for non-positive ``candidates`` or ``card_weight``.
    """

    def __init__(
        self,
        index: HybridIndex,
        encoder: Encoder,
        candidates: int = 100,
        card_weight: float = 1.5,
        same_lang_bonus: float = 0.1,
        synonyms: SynonymTable | None = None,
        expansion_weight: float = 0.5,
        expand_dense: bool = True,
    ) -> None:
        if candidates <= 0:
            raise ValueError(f"candidates must be greater than 0, got {candidates}")
        if card_weight <= 0:
            raise ValueError(f"card_weight must be greater than 0, got {card_weight}")
        self.index = index
        self.encoder = encoder
        self.candidates = candidates
        self.card_weight = card_weight
        self.same_lang_bonus = same_lang_bonus
        self.synonyms = default_synonyms() if synonyms is None else synonyms
        self.expansion_weight = expansion_weight
        self.expand_dense = expand_dense

    def search(self, query: str, lang: str, jurisdiction: str | None, k: int = 3) -> list[Hit]:
        """See :class:`Retriever`.

        Raises:
            ValueError: if ``k`` is not positive.
        """
        if k <= 0:
            raise ValueError(f"k must be greater than 0, got {k}")
        if not query.strip():
            return []
        docs = self.index.documents
        allowed = _allowed_jurisdictions(jurisdiction)
        terms = self.synonyms.expand(query, lang)
        vector = self.encoder.encode_queries([self._dense_text(query, terms)])[0]
        ranked_dense = [
            (i, s) for i, s in self.index.dense_search(vector, len(docs))
            if allowed is None or docs[i].jurisdiction in allowed
        ]
        dense = ranked_dense[: self.candidates]
        # Confidence rests on how close the question is to a card's or article's own words
        # (its best language); an example question that matches only ranks its card.
        similarity: dict[str, float] = {}
        for i, s in ranked_dense:
            if docs[i].role == "text":
                similarity.setdefault(docs[i].ref, s)
        sparse_all = self.index.sparse_scores(query)
        if terms and self.expansion_weight > 0:
            sparse_all = sparse_all + self.expansion_weight * self.index.sparse_scores(
                " ".join(terms)
            )
        order = np.argsort(-sparse_all, kind="stable")
        sparse = [
            (int(i), float(sparse_all[i])) for i in order[: self.candidates * 3]
            if sparse_all[i] > 0 and (allowed is None or docs[int(i)].jurisdiction in allowed)
        ][: self.candidates]

        fused: dict[int, float] = {}
        for ranking in (dense, sparse):
            for rank, (i, _score) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        lexical = dict(sparse)

        best: dict[str, Hit] = {}
        for i, score in fused.items():
            doc = docs[i]
            if doc.kind == "card":
                score *= self.card_weight + (self.same_lang_bonus if doc.lang == lang else 0.0)
            current = best.get(doc.ref)
            lex = max(lexical.get(i, 0.0), current.lexical if current else 0.0)
            if current is None or score > current.score:
                best[doc.ref] = Hit(
                    ref=doc.ref, kind=doc.kind, cites=doc.cites, score=score,
                    similarity=similarity.get(doc.ref, 0.0), lexical=lex,
                    topic=doc.topic, jurisdiction=doc.jurisdiction,
                )
            else:
                best[doc.ref] = dataclasses.replace(current, lexical=lex)
        ranked = sorted(best.values(), key=lambda h: (-h.score, h.ref))
        return ranked[:k]


    def dense_query(self, query: str, lang: str) -> str:
        """The text embedded for ``query``: the question, plus its legal terms when
        ``expand_dense`` is on (lets callers batch-encode queries ahead of time)."""
        return self._dense_text(query, self.synonyms.expand(query, lang))

    def _dense_text(self, query: str, terms: list[str]) -> str:
        return f"{query}\n{' '.join(terms)}" if terms and self.expand_dense else query


def _allowed_jurisdictions(jurisdiction: str | None) -> set[str] | None:
    if jurisdiction is None:
        return None
    return {jurisdiction, "INTL"}


def recall_hit(hits: Sequence[Hit], expected: Sequence[str]) -> int | None:
    """The 1-based rank of the first hit citing an expected key, or None.

    A hit matches an expected key with the same instrument and article, or the same
    instrument when the expected key has no article (``CN-MWPAY``).
    """
    for rank, hit in enumerate(hits, start=1):
        for cite in hit.cites:
            for key in expected:
                if cite == key or (":" not in key and cite.split(":")[0] == key):
                    return rank
    return None
