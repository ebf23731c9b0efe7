import random

import pytest

from knowledge_base.errors import IndexMissingError
from knowledge_base.overviews import OverviewTable
from knowledge_base.retrieval import Hit, HybridRetriever, _diversify, _local_first, recall_hit


@pytest.fixture(scope="module")
def retriever(index, encoder, second_encoder, kb):
    """The retriever as the app builds it: e5, BM25 and USE, and the overview cards."""
    overviews = OverviewTable.from_cards(kb.cards.values())
    return HybridRetriever(index, encoder, second=second_encoder, overviews=overviews)


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
    hit = Hit("x", "card", ("CN-MWPAY:3",), 1.0, 1.0, 0.0, "wages", "CN")
    assert recall_hit([hit], ["CN-MWPAY"]) == 1
    assert recall_hit([hit], ["CN-MWPAY:4"]) is None


def test_a_card_of_the_workers_country_comes_before_an_international_one(retriever):
    hits = retriever.search("how long is maternity leave", "en", "CN", 3)
    assert hits[0].jurisdiction == "CN", [h.ref for h in hits]
    assert [h.ref for h in retriever.search("how long is maternity leave", "en", "CN", 10)[:3]] \
        == [h.ref for h in hits]


def test_local_first_only_reorders_within_the_shown_hits():
    def hit(ref: str, jurisdiction: str, kind: str = "card") -> Hit:
        return Hit(ref, kind, ("K:1",), 1.0, 1.0, 0.0, None, jurisdiction)

    ilo, law, cn, cn_far = (hit("ilo", "INTL"), hit("CN-LL:1", "CN", "statute"),
                            hit("cn", "CN"), hit("cn-far", "CN"))
    assert [h.ref for h in _local_first([ilo, law, cn], "CN")] == ["cn", "ilo", "CN-LL:1"]
    assert _local_first([ilo, law, law, cn_far], "CN")[0] is ilo  # beyond the window
    assert _local_first([ilo, cn], None)[0] is ilo
    assert _local_first([cn, ilo], "CN")[0] is cn
    assert _local_first([], "CN") == []


def test_diversify_moves_a_repeat_of_an_article_already_shown_below_a_new_one():
    def hit(ref: str, score: float, *cites: str) -> Hit:
        return Hit(ref, "card", cites, score, 1.0, 0.0, None, "CN")

    card = hit("severance", 1.0, "CN-LCL:46", "CN-LCL:47")
    article = hit("CN-LCL:46", 0.9, "CN-LCL:46")
    other = hit("unlawful", 0.8, "CN-LCL:87")
    far = hit("far", 0.3, "CN-LCL:10")
    assert [h.ref for h in _diversify([card, article, other, far], 0.5)] == [
        "severance", "unlawful", "CN-LCL:46", "far"]
    # A penalty of 1 keeps the ranking; the scores are never changed.
    assert _diversify([card, article, other, far], 1.0) == [card, article, other, far]
    # Far below, a new article does not jump a repeat: 0.9 × 0.5 > 0.3.
    assert [h.ref for h in _diversify([card, article, far], 0.5)] == [
        "severance", "CN-LCL:46", "far"]
    # A hit that shares one article but brings another is not a repeat.
    partly_new = hit("partly", 0.9, "CN-LCL:46", "CN-LCL:48")
    assert _diversify([card, partly_new, other], 0.5) == [card, partly_new, other]
    assert _diversify([], 0.5) == []


def test_diversify_never_loses_an_article_from_the_first_n():
    rng = random.Random(7)
    for _ in range(2000):
        hits = sorted(
            (Hit(f"h{i}", "card", tuple(rng.sample("ABCDEF", rng.randint(1, 3))), rng.random(),
                 1.0, 0.0, None, "CN") for i in range(rng.randint(1, 10))),
            key=lambda h: -h.score,
        )
        reordered = _diversify(hits, rng.choice([0.3, 0.5, 0.9]))
        assert sorted(h.ref for h in reordered) == sorted(h.ref for h in hits)
        for n in range(1, len(hits) + 1):
            before = {c for h in hits[:n] for c in h.cites}
            assert {c for h in reordered[:n] for c in h.cites} >= before


@pytest.mark.parametrize("question", ["公司辞退我不给补偿怎么办", "老板不发工资怎么办"])
def test_the_first_hits_do_not_depend_on_how_many_are_asked_for(retriever, question):
    many = retriever.search(question, "zh", "CN", 25)
    assert [h.ref for h in retriever.search(question, "zh", "CN", 3)] == [h.ref for h in many[:3]]
    assert [h.ref for h in retriever.search(question, "zh", "CN", 10)] == [
        h.ref for h in many[:10]]


@pytest.mark.parametrize("penalty", [0.0, -0.5, 1.5])
def test_repeat_penalty_out_of_range_is_refused(index, encoder, penalty):
    with pytest.raises(ValueError, match="repeat_penalty must be in"):
        HybridRetriever(index, encoder, repeat_penalty=penalty)


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_second_weight_must_be_positive(index, encoder, second_encoder, weight):
    with pytest.raises(ValueError, match="second_weight must be greater than 0"):
        HybridRetriever(index, encoder, second=second_encoder, second_weight=weight)


def test_a_second_encoder_the_index_does_not_hold_is_refused(index, encoder):
    """e5 offered as the second encoder: the index's second embeddings are USE's."""
    with pytest.raises(IndexMissingError, match="not e5's"):
        HybridRetriever(index, encoder, second=encoder)


def test_the_second_ranking_joins_only_for_languages_it_reads(index, encoder, second_encoder):
    plain = HybridRetriever(index, encoder)
    both = HybridRetriever(index, encoder, second=second_encoder)
    assert "zh" in second_encoder.languages and "vi" not in second_encoder.languages
    khmer = "សួស្តី អរគុណច្រើន"  # no bridged word: nothing the second encoder can read
    assert both.search(khmer, "km", "CN", 10) == plain.search(khmer, "km", "CN", 10)
    chinese = "公司扣着我的身份证不还"
    fused, alone = both.search(chinese, "zh", "CN", 10), plain.search(chinese, "zh", "CN", 10)
    assert [h.score for h in fused] != [h.score for h in alone]
    assert recall_hit(fused[:3], ["CN-LCL:9", "CN-LCL:84"]) is not None


@pytest.mark.parametrize(("question", "lang", "card"), [
    ("老板不发工资怎么办", "zh", "cn-lcl-77-unpaid-wages-what-to-do"),
    ("公司不交社保怎么办", "zh", "cn-sil-83-where-to-complain"),
    ("I got hurt at work, what should I do?", "en", "cn-wiir-4-first-steps-after-injury"),
    ("被开除了怎么办", "zh", "cn-lcl-87-unlawful-dismissal"),
    ("工厂不给加班费怎么办", "zh", "cn-ll-44-overtime-pay-rates"),
])
def test_a_question_that_only_names_a_problem_gets_its_overview_card_first(
    retriever, question, lang, card
):
    hits = retriever.search(question, lang, "CN", 3)
    assert hits[0].ref == card and len({h.ref for h in hits}) == 3
    assert retriever.search(question, lang, "CN", 1)[0].ref == card


def test_a_question_that_says_more_keeps_its_own_ranking(retriever, index, encoder, second_encoder):
    plain = HybridRetriever(index, encoder, second=second_encoder)
    question = "老板打了白条，工资一直不发"
    assert retriever.search(question, "zh", "CN", 5) == plain.search(question, "zh", "CN", 5)


def test_an_overview_card_outside_the_jurisdiction_is_not_put_first(retriever):
    for hit in retriever.search("老板不发工资怎么办", "zh", "INTL", 5):
        assert hit.jurisdiction == "INTL"


def test_an_input_slip_is_searched_as_the_word_meant(retriever):
    slipped, meant = "厂里不给买社宝正常吗", "厂里不给买社保正常吗"
    assert retriever.search(slipped, "zh", "CN", 5) == retriever.search(meant, "zh", "CN", 5)
    assert retriever.dense_texts(slipped, "zh")[0] == meant


def test_a_language_the_second_encoder_cannot_read_is_read_through_its_bridges(
    retriever, index, encoder
):
    # USE reads no Vietnamese, but it reads 扣押身份证 身份证 ..., the words the question is
    # bridged to; the fused ranking then finds the article on withheld ID cards.
    vietnamese = "Công ty giữ chứng minh nhân dân của tôi không trả"
    assert "身份证" in retriever.synonyms.bridge(vietnamese, "vi")
    hits = retriever.search(vietnamese, "vi", "CN", 3)
    plain = HybridRetriever(index, encoder).search(vietnamese, "vi", "CN", 3)
    assert [h.score for h in hits] != [h.score for h in plain]
    assert recall_hit(hits, ["CN-LCL:9", "CN-LCL:84"]) is not None, [h.ref for h in hits]
    assert hits[0].lexical > 0  # shares words with the answer: the confidence rule can pass


@pytest.mark.parametrize(("question", "lang", "keys"), [
    ("Ông chủ nợ lương ba tháng rồi, phải làm sao?", "vi", ["CN-LCL:30", "CN-LCL:77",
                                                          "CN-LL:50", "CN-LCL:85"]),
    ("Cuti melahirkan berapa hari?", "id", ["CN-FEMALE:7"]),
    ("আমি গর্ভবতী, কোম্পানি আমাকে ছাঁটাই করতে চায়", "bn", ["CN-FEMALE:5", "CN-LCL:42"]),
    ("ក្រុមហ៊ុនអត់ចុះកិច្ចសន្យាការងារជាមួយខ្ញុំទេ", "km", ["CN-LCL:82", "CN-LCL:10"]),
    ("မှတ်ပုံတင်ကို စက်ရုံက သိမ်းထားတယ်", "my", ["CN-LCL:9", "CN-LCL:84"]),
])
def test_workers_writing_other_languages_reach_the_articles(retriever, question, lang, keys):
    hits = retriever.search(question, lang, "CN", 3)
    assert recall_hit(hits, keys) is not None, [h.ref for h in hits]
