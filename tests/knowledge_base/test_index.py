import json
import shutil

import numpy as np
import pytest

from knowledge_base.corpus import Document
from knowledge_base.errors import IndexMissingError
from knowledge_base.index import HybridIndex


class RandomEncoder:
    """Deterministic random unit vectors: enough to test the index plumbing."""

    name = "random-test"
    dim = 32

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def _vectors(self, texts):
        vectors = self._rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    encode_queries = _vectors
    encode_passages = _vectors


def test_faiss_top_k_matches_numpy_brute_force():
    import faiss

    rng = np.random.default_rng(42)
    corpus = rng.standard_normal((500, 64)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    queries = rng.standard_normal((20, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(64)
    index.add(corpus)
    docs = [Document(f"d{i}", "statute", f"K:{i}", (f"K:{i}",), "CN", None, "zh", "x")
            for i in range(500)]
    hybrid = HybridIndex(docs, index, bm25=None)
    for query in queries:
        got = hybrid.dense_search(query, 10)
        scores = corpus @ query
        expected = np.argsort(-scores)[:10]
        assert [i for i, _ in got] == expected.tolist()
        np.testing.assert_allclose([s for _, s in got], scores[expected], rtol=1e-5)


def test_build_load_round_trip_and_corruption(tmp_path, kb):
    encoder = RandomEncoder()
    path = HybridIndex.build(kb, encoder, tmp_path)
    loaded = HybridIndex.load(path)
    assert len(loaded.documents) == len(kb.documents)
    assert loaded.sparse_scores("劳动合同").max() > 0
    assert not loaded.sparse_scores("   ").any()
    assert HybridIndex.load_for(kb, encoder, tmp_path).documents == loaded.documents

    (path / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexMissingError, match="workright kb build"):
        HybridIndex.load(path)
    shutil.rmtree(path)
    with pytest.raises(IndexMissingError, match="workright kb build"):
        HybridIndex.load_for(kb, encoder, tmp_path)


def test_a_second_encoders_embeddings_are_kept_apart(tmp_path, kb):
    encoder, second = RandomEncoder(), RandomEncoder(seed=1)
    second.name, second.dim = "random-second", 16
    path = HybridIndex.build(kb, encoder, tmp_path, second=second)
    assert path.name != HybridIndex.build(kb, encoder, tmp_path).name  # keyed by both
    loaded = HybridIndex.load_for(kb, encoder, tmp_path, second=second)
    assert loaded.second_encoder == "random-second"
    query = second.encode_queries(["x"])[0]
    assert len(loaded.dense_search(query, 5, second=True)) == 5
    without = HybridIndex.load_for(kb, encoder, tmp_path)
    assert without.second_encoder is None
    with pytest.raises(IndexMissingError, match="no second encoder"):
        without.dense_search(query, 5, second=True)

    (path / "second.faiss").unlink()
    with pytest.raises(IndexMissingError, match="corrupt"):
        HybridIndex.load(path)


def test_incomplete_index_is_refused(tmp_path, kb):
    path = HybridIndex.build(kb, RandomEncoder(), tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["documents"] += 1
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMissingError, match="incomplete"):
        HybridIndex.load(path)
