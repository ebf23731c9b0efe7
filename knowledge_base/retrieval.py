"""Hybrid retrieval: dense and BM25 rankings (and a second encoder's, when there is one) fused
by reciprocal rank, filtered by jurisdiction, grouped so one card or article appears once,
with cards preferred, and an overview card first for a question that only names its problem."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from knowledge_base.encoders import Encoder
from knowledge_base.errors import IndexMissingError
from knowledge_base.index import HybridIndex
from knowledge_base.overviews import OverviewTable
from knowledge_base.synonyms import BRIDGE_TARGET, SynonymTable, default_synonyms

if TYPE_CHECKING:
    from numpy.typing import NDArray

RRF_K = 60
#: How far down the list a card of the worker's own country may be moved up from to come
#: before an international one (the three results a worker is shown).
LOCAL_WINDOW = 3
#: How many of the best hits :func:`_diversify` reorders (the rest keep their order), so the
#: first results do not depend on how many were asked for.
DIVERSITY_DEPTH = 10


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a card or a statute article.

    Attributes:
        ref: the card id or the statute key.
        kind: ``"card"`` or ``"statute"``.
        cites: the citation keys it rests on (the first is the main one).
        score: the fused score (only comparable within one search).
        similarity: cosine similarity of its best-matching document (a card in either
            language, or the article) to the query.
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
    """The default :class:`Retriever`: e5 + faiss and BM25, and USE + faiss, fused.

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
        repeat_penalty: factor on the score of a hit whose articles are all cited by better
            hits, when ordering the first :data:`DIVERSITY_DEPTH` (1.0: no reordering). A
            card and the article it rests on are one answer shown twice; the next card with
            an article of its own is more likely to be the one a worker's case needs.
        expand_dense: also move the query vector towards the legal terms' own embedding,
            by ``expansion_weight`` (the small encoder does not map 炒鱿鱼 to 解除劳动合同
            by itself). The question is embedded alone — the same encoding the intent
            classifier has just made, taken from the encoder's cache — and the terms apart
            (few combinations, so usually cached too).
        second: a second encoder of another family (USE), whose embeddings ``index`` holds;
            its ranking of the question alone joins the fusion, for the question languages
            in its ``languages`` attribute when it has one (for the others its ranking would
            be noise); for a language with bridges (:class:`SynonymTable`), its ranking of
            the Chinese words the question is bridged to, when there are any. None: two
            rankings.
        second_weight: the weight of the second ranking in the fusion (the first two weigh
            1): enough to lift an answer both encoders rank fairly high, not to overrule them.
        overviews: overview cards: a question that only names a common problem gets the card
            on what to do about it first (:mod:`knowledge_base.overviews`), whatever its
            score; it keeps its score, so that hit alone may be out of score order. None: none.

    Raises:
        ValueError: for non-positive ``candidates``, ``card_weight`` or ``second_weight``,
            or a ``repeat_penalty`` outside (0, 1].
        IndexMissingError: ``second`` is not the encoder whose embeddings ``index`` holds.
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
        repeat_penalty: float = 0.5,
        second: Encoder | None = None,
        second_weight: float = 0.5,
        overviews: OverviewTable | None = None,
    ) -> None:
        if candidates <= 0:
            raise ValueError(f"candidates must be greater than 0, got {candidates}")
        if card_weight <= 0:
            raise ValueError(f"card_weight must be greater than 0, got {card_weight}")
        if not 0 < repeat_penalty <= 1:
            raise ValueError(f"repeat_penalty must be in (0, 1], got {repeat_penalty}")
        if second_weight <= 0:
            raise ValueError(f"second_weight must be greater than 0, got {second_weight}")
        if second is not None and index.second_encoder != second.name:
            raise IndexMissingError(
                f"the index holds {index.second_encoder or 'no'} second embeddings, not "
                f"{second.name}'s: run `workright kb build`"
            )
        self.index = index
        self.encoder = encoder
        self.candidates = candidates
        self.card_weight = card_weight
        self.same_lang_bonus = same_lang_bonus
        self.synonyms = default_synonyms() if synonyms is None else synonyms
        self.expansion_weight = expansion_weight
        self.expand_dense = expand_dense
        self.repeat_penalty = repeat_penalty
        self.second = second
        self.second_weight = second_weight
        languages: Collection[str] | None = getattr(second, "languages", None)
        self.second_languages = None if languages is None else frozenset(languages)
        self.overviews = overviews

    def search(self, query: str, lang: str, jurisdiction: str | None, k: int = 3) -> list[Hit]:
        """See :class:`Retriever`.

        Raises:
            ValueError: if ``k`` is not positive.
        """
        if k <= 0:
            raise ValueError(f"k must be greater than 0, got {k}")
        if not query.strip():
            return []
        query = self.synonyms.correct(query, lang)  # 社宝 → 社保: search what the worker meant
        docs = self.index.documents
        allowed = _allowed_jurisdictions(jurisdiction)
        terms = self.synonyms.expand(query, lang)
        vector = self._query_vector(query, terms)
        ranked_dense = self._by_similarity(vector, allowed, second=False)
        dense = ranked_dense[: self.candidates]
        # A card's similarity is that of its best language, even when that document did not
        # make the candidate list (the card came in through BM25 or its other language).
        similarity: dict[str, float] = {}
        for i, s in ranked_dense:
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

        rankings = [(1.0, dense), (1.0, sparse)]
        second_text = self._second_text(query, lang)
        if self.second is not None and second_text:
            second_vector = self.second.encode_queries([second_text])[0]
            ranked_second = self._by_similarity(second_vector, allowed, second=True)
            rankings.append((self.second_weight, ranked_second[: self.candidates]))

        fused: dict[int, float] = {}
        for weight, ranking in rankings:
            for rank, (i, _score) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + weight / (RRF_K + rank + 1)
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
        first = _diversify(ranked[:DIVERSITY_DEPTH], self.repeat_penalty)
        hits = _local_first([*first, *ranked[DIVERSITY_DEPTH:k]][:k], jurisdiction)
        overview = best.get(self.overviews.match(query, lang) or "") if self.overviews else None
        if overview is None:
            return hits
        return [overview, *(hit for hit in hits if hit.ref != overview.ref)][:k]


    def _second_text(self, query: str, lang: str) -> str | None:
        """What the second encoder reads: the question in a language it reads; for one it
        does not, the Chinese words the question is bridged to, if it reads those (USE reads
        no Vietnamese, but 欠工资 加班费 for Công ty nợ lương và tiền tăng ca); else nothing."""
        if self.second_languages is None or lang in self.second_languages:
            return query
        if BRIDGE_TARGET in self.second_languages:
            return " ".join(self.synonyms.bridge(query, lang)) or None
        return None

    def _by_similarity(
        self, vector: NDArray[np.float32], allowed: set[str] | None, *, second: bool
    ) -> list[tuple[int, float]]:
        """Every document of an ``allowed`` jurisdiction (None: all), most similar first."""
        docs = self.index.documents
        return [
            (i, s) for i, s in self.index.dense_search(vector, len(docs), second=second)
            if allowed is None or docs[i].jurisdiction in allowed
        ]

    def dense_texts(self, query: str, lang: str) -> list[str]:
        """The texts embedded for ``query``: the question (input slips mended), then its legal
        terms when ``expand_dense`` is on and there are any (lets callers batch-encode ahead
        of time)."""
        query = self.synonyms.correct(query, lang)
        terms = self.synonyms.expand(query, lang)
        return [query, " ".join(terms)] if terms and self.expand_dense else [query]

    def _query_vector(self, query: str, terms: list[str]) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self.encoder.encode_queries([query])[0]
        if not (terms and self.expand_dense):
            return vector
        legal = self.encoder.encode_queries([" ".join(terms)])[0]
        combined: NDArray[np.float32] = (vector + self.expansion_weight * legal).astype(np.float32)
        norm = float(np.linalg.norm(combined))
        return combined / np.float32(norm) if norm > 0 else vector


def _diversify(hits: list[Hit], penalty: float) -> list[Hit]:
    """Reorder ``hits`` greedily, each next one the best after a ``penalty`` factor on those
    that cite nothing new: every article they rest on is cited by a hit already above.

    The scores are kept. A repeat only moves down, so for every ``n`` the first ``n`` hits
    cite all the articles they cited before, and perhaps more: a card on art. 46 followed by
    art. 46 itself becomes the card, then the next card with an article of its own.
    """
    pool = list(hits)
    chosen: list[Hit] = []
    covered: set[str] = set()
    while pool:
        effective = [
            hit.score * (penalty if hit.cites and covered.issuperset(hit.cites) else 1.0)
            for hit in pool
        ]
        # max() keeps the first of equals: the better-ranked hit wins a tie.
        position = max(range(len(pool)), key=effective.__getitem__)
        hit = pool.pop(position)
        chosen.append(hit)
        covered.update(hit.cites)
    return chosen


def _local_first(hits: list[Hit], jurisdiction: str | None) -> list[Hit]:
    """Put the best card of the worker's own country first when an international one leads.

    A worker in China who asks how long maternity leave is must first read China's 98 days,
    not ILO C183's 14 weeks; the international card stays in the list, one place down. Only
    the order within the first :data:`LOCAL_WINDOW` changes, so which hits a worker is shown
    does not depend on how many were asked for.
    """
    if jurisdiction is None or not hits or hits[0].jurisdiction == jurisdiction:
        return hits
    for position, hit in enumerate(hits[:LOCAL_WINDOW]):
        if hit.kind == "card" and hit.jurisdiction == jurisdiction:
            return [hit, *hits[:position], *hits[position + 1 :]]
    return hits


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
