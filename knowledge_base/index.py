"""The hybrid search index: faiss inner product over embeddings plus BM25, fused by rank.

Built once (``workright kb build``) into ``<index_dir>/<hash>/`` where the hash covers the
sources, the index format and the encoders, so start-up only loads it. A second encoder's
embeddings (USE, :class:`~knowledge_base.encoders.USEEncoder`) are kept beside the first's
when one is configured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge_base.corpus import Document, KnowledgeBase
from knowledge_base.encoders import Encoder
from knowledge_base.errors import IndexMissingError
from knowledge_base.tokenize import tokenize

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

BATCH = 32
#: Characters of a document that are embedded. e5 reads at most 512 tokens and its cost grows
#: faster than linearly with length; the opening of an article carries its subject, and BM25
#: still indexes the whole text.
DENSE_CHARS = 360


def index_key(kb: KnowledgeBase, encoder: Encoder, second: Encoder | None = None) -> str:
    """The folder name of the index for these sources and these encoders."""
    key = f"{kb.fingerprint}|{encoder.name}|{encoder.dim}"
    if second is not None:
        key += f"|{second.name}|{second.dim}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class HybridIndex:
    """Dense (faiss) and sparse (BM25) scores over the same documents.

    Usage example::

        index = HybridIndex.load_or_build(kb, encoder, Path("var/index"), second=use)
        index.dense_search(encoder.encode_queries(["没签劳动合同"])[0], 10)
        index.dense_search(use.encode_queries(["没签劳动合同"])[0], 10, second=True)
        index.sparse_scores("没签劳动合同")

    Attributes:
        documents: the indexed documents, in index order.
        second_encoder: the name of the second encoder whose embeddings are kept, or None.
    """

    def __init__(
        self,
        documents: list[Document],
        faiss_index: Any,
        bm25: Any,
        second_index: Any = None,
        second_encoder: str | None = None,
    ) -> None:
        for held in (faiss_index, second_index):
            if held is not None and held.ntotal != len(documents):
                raise IndexMissingError(
                    f"index holds {held.ntotal} vectors for {len(documents)} documents: "
                    "run `workright kb build`"
                )
        self.documents = documents
        self._faiss = faiss_index
        self._bm25 = bm25
        self._second = second_index
        self.second_encoder = second_encoder if second_index is not None else None

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        kb: KnowledgeBase,
        encoder: Encoder,
        index_dir: Path,
        progress: Callable[[int, int], None] | None = None,
        second: Encoder | None = None,
    ) -> Path:
        """Embed and index every document of ``kb`` into ``index_dir/<key>``; return the path.

        ``second``'s embeddings are kept too (``progress`` counts the first encoder's, by
        far the slower). The folder is written under a temporary name and renamed at the
        end, so a build that is interrupted never leaves a half index that start-up would
        load.
        """
        import bm25s
        import faiss

        target = index_dir / index_key(kb, encoder, second)
        index_dir.mkdir(parents=True, exist_ok=True)
        docs = kb.documents
        dense = _embed(docs, encoder, progress)
        second_index = _embed(docs, second, None) if second is not None else None
        bm25 = bm25s.BM25()
        bm25.index([tokenize(d.text) or ["_"] for d in docs], show_progress=False)

        work = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
        try:
            faiss.write_index(dense, str(work / "dense.faiss"))
            if second_index is not None:
                faiss.write_index(second_index, str(work / "second.faiss"))
            bm25.save(str(work / "bm25"), show_progress=False)
            with (work / "documents.jsonl").open("w", encoding="utf-8") as handle:
                for doc in docs:
                    handle.write(json.dumps(_doc_to_json(doc), ensure_ascii=False) + "\n")
            manifest = {"documents": len(docs), "encoder": encoder.name, "dim": encoder.dim,
                        "second_encoder": second.name if second is not None else None,
                        "fingerprint": kb.fingerprint}
            (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return target

    @classmethod
    def load(cls, path: Path) -> HybridIndex:
        """Load a built index.

        Raises:
            IndexMissingError: the folder is missing, incomplete or corrupt.
        """
        import bm25s
        import faiss

        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise IndexMissingError(
                f"no search index at {path}: run `workright kb build` (or `make run`)"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
            documents = [
                _doc_from_json(json.loads(line))
                for line in (path / "documents.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            dense = faiss.read_index(str(path / "dense.faiss"))
            second_encoder = manifest.get("second_encoder")
            second_index = (
                faiss.read_index(str(path / "second.faiss")) if second_encoder else None
            )
            bm25 = bm25s.BM25.load(str(path / "bm25"), show_progress=False)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise IndexMissingError(
                f"the search index at {path} is corrupt ({exc.__class__.__name__}): "
                "run `workright kb build`"
            ) from exc
        if manifest.get("documents") != len(documents):
            raise IndexMissingError(f"the search index at {path} is incomplete: "
                                    "run `workright kb build`")
        return cls(documents, dense, bm25, second_index, second_encoder)

    @classmethod
    def load_for(
        cls, kb: KnowledgeBase, encoder: Encoder, index_dir: Path, second: Encoder | None = None
    ) -> HybridIndex:
        """Load the index matching ``kb`` and the encoders; never builds.

        Raises:
            IndexMissingError: with the command to run when it was not built.
        """
        return cls.load(index_dir / index_key(kb, encoder, second))

    @classmethod
    def load_or_build(
        cls, kb: KnowledgeBase, encoder: Encoder, index_dir: Path, second: Encoder | None = None
    ) -> HybridIndex:
        """Load the matching index, building it first if absent (tests and `make run`)."""
        path = index_dir / index_key(kb, encoder, second)
        if not (path / "manifest.json").exists():
            cls.build(kb, encoder, index_dir, second=second)
        return cls.load(path)

    # -- scoring ----------------------------------------------------------------------------
    def dense_search(
        self, query_vector: NDArray[np.float32], k: int, *, second: bool = False
    ) -> list[tuple[int, float]]:
        """Top ``k`` documents by inner product (cosine: vectors are normalised), by the first
        encoder's embeddings or, with ``second``, the second encoder's.

        Raises:
            IndexMissingError: ``second`` asked of an index built without a second encoder.
        """
        held = self._second if second else self._faiss
        if held is None:
            raise IndexMissingError("this index holds no second encoder's embeddings: "
                                    "run `workright kb build`")
        k = min(k, len(self.documents))
        scores, ids = held.search(query_vector.reshape(1, -1).astype(np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def sparse_scores(self, query: str) -> NDArray[np.float32]:
        """BM25 score of every document for ``query`` (zeros when no token matches)."""
        tokens = tokenize(query)
        if not tokens:
            return np.zeros(len(self.documents), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


def _embed(
    docs: list[Document], encoder: Encoder, progress: Callable[[int, int], None] | None
) -> Any:
    """A faiss inner-product index of the opening :data:`DENSE_CHARS` of every document."""
    import faiss

    vectors = np.zeros((len(docs), encoder.dim), dtype=np.float32)
    for start in range(0, len(docs), BATCH):
        chunk = docs[start : start + BATCH]
        vectors[start : start + len(chunk)] = encoder.encode_passages(
            [d.text[:DENSE_CHARS] for d in chunk]
        )
        if progress:
            progress(start + len(chunk), len(docs))
    dense = faiss.IndexFlatIP(encoder.dim)
    dense.add(vectors)
    return dense


def _doc_to_json(doc: Document) -> dict[str, Any]:
    return {"doc_id": doc.doc_id, "kind": doc.kind, "ref": doc.ref, "cites": list(doc.cites),
            "jurisdiction": doc.jurisdiction, "topic": doc.topic, "lang": doc.lang,
            "text": doc.text}


def _doc_from_json(data: dict[str, Any]) -> Document:
    return Document(doc_id=data["doc_id"], kind=data["kind"], ref=data["ref"],
                    cites=tuple(data["cites"]), jurisdiction=data["jurisdiction"],
                    topic=data["topic"], lang=data["lang"], text=data["text"])
