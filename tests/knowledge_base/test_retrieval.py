import numpy as np
import pytest

from knowledge_base.corpus import Document, KnowledgeBase
from knowledge_base.index import HybridIndex
from knowledge_base.retrieval import HybridRetriever, recall_hit
from knowledge_base.synonyms import SynonymTable


@pytest.fixture(scope="module")
def retriever(index, encoder):
    return HybridRetriever(index, encoder)


def test_no_written_contract_finds_lcl_82_or_10(retriever):
    hits = retriever.search("公司不和我签劳动合同怎么办", "zh", "CN", 3)
    assert recall_hit(hits, ["CN-LCL:82", "CN-LCL:10"]) is not None, [h.ref for h in hits]


def test_jurisdiction_filter_keeps_only_that_country_and_international(retriever):
    for hit in retriever.search("forced overtime and withheld passport", "en", "INTL", 10):
        assert hit.jurisdiction == "INTL"
    hits = retriever.search("加班费怎么算", "zh", "CN", 10)
    assert {h.jurisdiction for h in hits} <= {"CN", "INTL"}


def test_each_card_or_article_appears_once(retriever):
    hits = retriever.search("加班费", "zh", None, 10)
    refs = [h.ref for h in hits]
    assert len(refs) == len(set(refs))


def test_empty_query_and_bad_k(retriever):
    assert retriever.search("   ", "zh", "CN", 3) == []
    with pytest.raises(ValueError, match="k must be greater than 0"):
        retriever.search("x", "zh", "CN", 0)


def test_recall_hit_matches_instrument_without_article():
    from knowledge_base.retrieval import Hit

    hit = Hit("x", "card", ("CN-MWPAY:3",), 1.0, 1.0, 0.0, "wages", "CN")
    assert recall_hit([hit], ["CN-MWPAY"]) == 1
    assert recall_hit([hit], ["CN-MWPAY:4"]) is None


class TableEncoder:
    """Vectors from a table: each text points along one axis, or between two."""

    name = "table-test"
    dim = 3
    table = {
        "card words": [1.0, 0.0, 0.0],
        "老板跑了工资咋办": [0.0, 1.0, 0.0],
        "article words": [0.0, 0.0, 1.0],
        # the worker's message: exactly the example question, and far from both texts
        "老板跑了 工资咋办": [0.0, 1.0, 0.0],
    }

    def _vectors(self, texts):
        return np.array([self.table[t] for t in texts], dtype=np.float32)

    encode_queries = encode_passages = _vectors


def test_an_example_question_ranks_its_card_but_does_not_make_it_confident(tmp_path):
    card = {"kind": "card", "ref": "cn-card", "cites": ("CN-LCL:30",), "jurisdiction": "CN",
            "topic": "wages", "lang": "zh"}
    docs = [
        Document("card:cn-card:zh", text="card words", **card),
        Document("card:cn-card:zh:q1", text="老板跑了工资咋办", role="question", **card),
        Document("law:CN-LCL:1", "statute", "CN-LCL:1", ("CN-LCL:1",), "CN", None, "zh",
                 "article words"),
    ]
    encoder = TableEncoder()
    kb = KnowledgeBase(statutes={}, passages={}, cards={}, documents=docs, fingerprint="t")
    index = HybridIndex.load(HybridIndex.build(kb, encoder, tmp_path))
    retriever = HybridRetriever(index, encoder, synonyms=SynonymTable({}))
    hits = retriever.search("老板跑了 工资咋办", "zh", "CN", 2)
    assert [h.ref for h in hits] == ["cn-card", "CN-LCL:1"]
    assert hits[0].similarity == pytest.approx(0.0)  # the card's own words are unrelated
