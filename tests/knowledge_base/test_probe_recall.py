"""Retrieval quality on questions written for this project (never taken from the development
set), with the articles a correct answer rests on:

- ``probe_questions.jsonl``: 105 worker-style questions;
- ``probe_hard.jsonl``: 100 harder ones (long stories with incidental detail, slang, relatives,
  typos), labelled from the law texts by someone who had not read the cards;
- ``probe_blind.jsonl``: 150 more (110 zh, 40 en; short, one-situation and long messy ones),
  written and labelled from the law texts by someone who had read neither the cards nor the
  other question sets;
- ``probe_consult.jsonl``: 100 Chinese questions in the style of public legal-advice
  consultations (a first-person account with dates and amounts, 某公司, 请问…), labelled the
  same way, with ``sensitive`` too;
- ``probe_fresh.jsonl``: 150 more (120 zh, 30 en; about a third short, the rest consultations,
  spread over every topic of issue #3), written and labelled from the law texts by someone who
  had read neither the cards nor any other question set, with ``sensitive`` too;
- ``probe_real.jsonl``: 866 Chinese messages made the way real ones are: nine writers who
  read no law, no card and no other set wrote 100 messages each as workers type them (short
  ones without punctuation, pinyin and voice-input slips, stories, relatives asking); other
  people then labelled them from the law texts alone, ``sensitive`` too (34 messages no text in
  ``../shared/kb/cn`` answers were left out). Made this way the set is as hard as the
  development set (Recall@3 0.81, 0.83, 0.83 and 0.82 per writer before the synonyms the
  first three led to; the fourth, held out, went to 0.84; the fifth and sixth (ids ``re``,
  ``rf``), written after every change to the synonyms, 0.83 and 0.83; the seventh and eighth
  (``rg``: older workers, voice input; ``rh``: young ones, slang), 0.835 and 0.835), where the
  sets written label-first score 0.91–0.97. The ninth (``ri``) wrote as people post on
  legal-advice sites (a first-person account with dates and amounts, then 请问…), and scored
  0.94 held out: long accounts are easier, so the development set's lower score does not come
  from its consultation style;
- ``head_questions.jsonl``: 50 of the commonest short questions, each with the cards a worker
  should see first (an overview, not a narrow special case);
- the cards' own ``questions``: each card's first question in each language must reach an
  answer resting on that card's articles;
- for workers who write Vietnamese, Indonesian, Bengali, Khmer or Burmese (no card has text
  in their language; ``bridges`` in the synonym table lead their words to Chinese ones):
  ``head_questions_langs.jsonl``, the 35 Chinese head questions as such workers would type
  them (175), with the same suitable cards; and ``probe_real_langs.jsonl``, 30 messages of
  ``probe_real`` rewritten the same way by someone who saw neither the bridges nor the
  project (150), with the same articles. Both are machine-written drafts, not yet read by
  native speakers, and both are in-sample: the first was written alongside the Vietnamese and
  Indonesian bridges, and the bridges of all five languages were extended from the misses of
  the second once it had been measured.

Not timed, and the floors are modest: they catch a retrieval change that breaks the common
situations, not a point of recall. Measured at the time of writing (Recall@3, with the second
encoder; without it in brackets): probe 0.97 zh (0.96), 1.00 en (1.00); hard 0.94 (0.93),
0.85 (0.85); blind 0.96 (0.95), 0.98 (0.80); consultations 0.98 (0.97); fresh 0.98 (0.96),
0.97 (0.87); real 0.89 (0.88); card questions 0.93 (0.94), 0.88 (0.89); head questions with
a suitable card in the top 3: 1.00 zh, 1.00 en, either way; first place 0.94 zh, 0.93 en
with the overview cards (0.89, 0.80 without: the narrow card on a court payment order came
before the one listing every route for 老板不发工资怎么办). The other languages, with the
bridges (without them in brackets): head questions with a suitable card in the top 3, the five
together, 0.82 (0.49); the rewritten messages, Recall@3 0.82 (0.39; 0.59 before the bridges
were extended from its misses), where the same 30 in Chinese score 0.87.

These sets are written, not collected, and the label-first ones over-predict: the development
set's questions, labelled by hand, score lower (Chinese Recall@3 0.80) even where the style is
the same (the consultations), and a change that helped the written sets (ranking cards by their
example questions too) lowered it — see the #3 issue note. ``probe_real`` was made to close
that gap; the misses of its writers led to synonyms once each had been measured, so all of
them are in-sample now.
Even these messages share the written style: ranking by the cards' example questions (as a
feature of a learned ranker) raised the fifth and sixth writers from 0.83 to 0.85 and 0.87 and
still lowered the development set, so no written set is trusted to judge a change of that kind.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge_base.overviews import OverviewTable
from knowledge_base.retrieval import HybridRetriever, recall_hit
from knowledge_base.synonyms import SynonymTable

HERE = Path(__file__).parent
PROBES = (
    "probe_questions.jsonl", "probe_hard.jsonl", "probe_blind.jsonl", "probe_consult.jsonl",
    "probe_fresh.jsonl", "probe_real.jsonl",
)
#: Recall@3 floors by file and language.
FLOORS = {
    ("probe_questions.jsonl", "zh"): 0.85, ("probe_questions.jsonl", "en"): 0.75,
    ("probe_hard.jsonl", "zh"): 0.85, ("probe_hard.jsonl", "en"): 0.70,
    ("probe_blind.jsonl", "zh"): 0.85, ("probe_blind.jsonl", "en"): 0.70,
    ("probe_consult.jsonl", "zh"): 0.85,
    ("probe_fresh.jsonl", "zh"): 0.85, ("probe_fresh.jsonl", "en"): 0.75,
    ("probe_real.jsonl", "zh"): 0.82,
    ("cards", "zh"): 0.85, ("cards", "en"): 0.80,
}
#: The languages no card is written in, judged together: each has too few questions for a
#: floor of its own that a retrieval change could not cross by chance.
BRIDGED = frozenset({"vi", "id", "bn", "km", "my"})
BRIDGED_FLOORS = {"head_questions_langs.jsonl": 0.70, "probe_real_langs.jsonl": 0.70}


def _rows(name: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for probe in PROBES if name is None else (name,):
        lines = (HERE / probe).read_text(encoding="utf-8").splitlines()
        rows += [{**json.loads(line), "file": probe} for line in lines if line]
    return rows


def _card_rows(kb) -> list[dict[str, Any]]:
    """Each card's first example question per language, expecting the card's articles."""
    return [
        {"id": f"{card.id}:{lang}", "lang": lang, "question": questions[0],
         "jurisdiction": "CN", "expected_source": list(card.cites), "file": "cards"}
        for card in kb.cards.values()
        for lang, questions in sorted(card.questions.items()) if questions
    ]


class _Precomputed:
    """The real encoder's query vectors, computed in one batch (much faster than one by one);
    the retriever sees the same vectors it would compute itself."""

    def __init__(self, encoder, texts: list[str]) -> None:
        self.name, self.dim = encoder.name, encoder.dim
        self._vectors = dict(zip(texts, encoder.encode_queries(texts), strict=True))

    def encode_queries(self, texts):
        return np.stack([self._vectors[t] for t in texts])


def _bridged_rows(name: str) -> list[dict[str, Any]]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


@pytest.fixture(scope="module")
def probe_encoder(index, encoder, kb):
    retriever = HybridRetriever(index, encoder)
    rows = _rows() + _card_rows(kb) + [r for n in BRIDGED_FLOORS for r in _bridged_rows(n)]
    texts = {t for r in rows for t in retriever.dense_texts(r["question"], r["lang"])}
    return _Precomputed(encoder, sorted(texts))


def _recall_at_3(retriever: HybridRetriever, rows: list[dict[str, Any]]) -> float:
    hits = 0
    for row in rows:
        found = retriever.search(row["question"], row["lang"], row.get("jurisdiction"), 3)
        hits += recall_hit(found, row["expected_source"]) is not None
    return hits / len(rows)


@pytest.mark.parametrize("name", PROBES)
def test_probe_file_is_well_formed(kb, name):
    rows = _rows(name)
    assert len(rows) >= 60
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["lang"] in {"zh", "en"} and row["expected_source"], row["id"]
        for key in row["expected_source"]:
            if key.startswith("CN-") and not key.startswith("CN-CRIM"):
                assert key in kb.passages, (row["id"], key)


def test_every_card_has_example_questions_in_both_languages(kb):
    missing = [c.id for c in kb.cards.values() if not (c.questions.get("zh") and
                                                      c.questions.get("en"))]
    assert not missing


@pytest.mark.slow
@pytest.mark.parametrize("name", [*PROBES, "cards"])
def test_recall_at_3(index, probe_encoder, second_encoder, kb, name):
    rows = _card_rows(kb) if name == "cards" else _rows(name)
    overviews = OverviewTable.from_cards(kb.cards.values())
    retriever = HybridRetriever(index, probe_encoder, second=second_encoder, overviews=overviews)
    for (file, lang), floor in FLOORS.items():
        if file == name:
            subset = [r for r in rows if r["lang"] == lang]
            assert _recall_at_3(retriever, subset) >= floor, (name, lang)


def _head_rows() -> list[dict[str, Any]]:
    lines = (HERE / "head_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def test_head_questions_name_real_cards(kb):
    rows = _head_rows()
    assert len({r["id"] for r in rows}) == len(rows) >= 40
    for row in rows:
        assert row["lang"] in {"zh", "en"} and row["first"], row["id"]
        assert all(card in kb.cards for card in row["first"]), row["id"]


@pytest.mark.slow
def test_head_questions_get_a_suitable_card_first_or_in_the_top_3(
    index, encoder, second_encoder, kb
):
    overviews = OverviewTable.from_cards(kb.cards.values())
    retriever = HybridRetriever(index, encoder, second=second_encoder, overviews=overviews)
    for lang, floor in (("zh", 0.9), ("en", 0.85)):
        rows = [r for r in _head_rows() if r["lang"] == lang]
        found = [(r["first"], retriever.search(r["question"], lang, "CN", 3)) for r in rows]
        in_top_3 = sum(any(h.ref in suitable for h in hits) for suitable, hits in found)
        first = sum(hits[0].ref in suitable for suitable, hits in found)
        assert in_top_3 / len(rows) >= floor, lang
        assert first / len(rows) >= 0.85, lang


@pytest.mark.slow
def test_colloquial_words_reach_the_legal_card(index, encoder, second_encoder):
    retriever = HybridRetriever(index, encoder, second=second_encoder)
    plain = HybridRetriever(index, encoder, synonyms=SynonymTable({}))
    question = "下班骑电动车回家路上被车撞了，算不算工伤"
    assert recall_hit(retriever.search(question, "zh", "CN", 3), ["CN-WIIR:14"]) is not None
    assert plain.search(question, "zh", "CN", 3)  # expansion off still answers


def test_the_legal_terms_are_embedded_apart_only_when_asked(index, encoder):
    question = "我被炒鱿鱼了"
    texts = HybridRetriever(index, encoder).dense_texts(question, "zh")
    assert texts[0] == question and "解除劳动合同" in texts[1]
    off = HybridRetriever(index, encoder, expand_dense=False)
    assert off.dense_texts(question, "zh") == [question]
    assert HybridRetriever(index, encoder).dense_texts("你好", "zh") == ["你好"]


@pytest.mark.parametrize("name", sorted(BRIDGED_FLOORS))
def test_bridged_language_files_are_well_formed(kb, name):
    rows = _bridged_rows(name)
    assert len({r["id"] for r in rows}) == len(rows) >= 150
    assert {r["lang"] for r in rows} == BRIDGED
    for row in rows:
        assert row["question"].strip(), row["id"]
        assert all(card in kb.cards for card in row.get("first", [])), row["id"]
        assert all(key in kb.passages for key in row.get("expected_source", [])), row["id"]
        assert row.get("first") or row.get("expected_source"), row["id"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BRIDGED_FLOORS))
def test_workers_writing_other_languages_find_an_answer_in_the_top_3(
    index, probe_encoder, second_encoder, kb, name
):
    overviews = OverviewTable.from_cards(kb.cards.values())
    retriever = HybridRetriever(index, probe_encoder, second=second_encoder, overviews=overviews)
    found = 0
    rows = _bridged_rows(name)
    for row in rows:
        hits = retriever.search(row["question"], row["lang"], "CN", 3)
        if "first" in row:
            found += any(h.ref in row["first"] for h in hits)
        else:
            found += recall_hit(hits, row["expected_source"]) is not None
    assert found / len(rows) >= BRIDGED_FLOORS[name]
