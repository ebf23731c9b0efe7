"""The builtin intent classifier: sentence embeddings plus character n-grams, a linear head.

Features are the shared encoder's query embedding of a message (its meaning, across languages)
and TF-IDF weights of its character n-grams (``char_wb`` 1-4: the literal wording, which also
works for Chinese, Khmer and Burmese, written without spaces between words). A multinomial
logistic regression on both is trained from ``nlu/data/*.yml`` in seconds and is deterministic.

A missed report costs more than a needless offer of the report path, so the head's
probabilities are shifted towards the sensitive intents (``report_problem``,
``urgent_danger``) by :attr:`BuiltinConfig.sensitive_cost` before the best intent is chosen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from knowledge_base.encoders import Encoder, canonical_text
from nlu.errors import NLUError
from nlu.training import TrainingData, load_training_data
from nlu.types import INTENTS, IntentScore, Parse

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

#: Bumped when the saved files change shape; part of every model key.
FORMAT_VERSION = 1

#: The intents whose choice offers the report path (as in ``bot.assistant.Triage``).
SENSITIVE_INTENTS: frozenset[str] = frozenset({"report_problem", "urgent_danger"})

_META = "meta.json"
_HEAD = "head.joblib"


@dataclass(frozen=True, slots=True)
class BuiltinConfig:
    """How features are built and the head is trained; part of the model key.

    Attributes:
        max_chars: a message is classified by its first ``max_chars`` characters (e5 reads
            512 tokens at most; a longer text would only cost time).
        ngram_min: shortest character n-gram.
        ngram_max: longest character n-gram.
        min_df: an n-gram must occur in this many training examples to be a feature.
        embedding_weight: scale of the (unit-length) embedding next to the (unit-length)
            TF-IDF vector; 2 lets meaning outweigh spelling.
        c: inverse regularisation strength of the logistic regression.
        balanced: weight classes inversely to their frequency.
        sensitive_cost: how many needless offers of the report path one missed report is
            worth: the sensitive intents' probabilities are multiplied by it and the
            ranking renormalised. 4 matches the goal of precision 0.80 (one false offer per
            four true ones). 1 turns the shift off.
        random_state: the solver's seed.
    """

    max_chars: int = 512
    ngram_min: int = 1
    ngram_max: int = 4
    min_df: int = 2
    embedding_weight: float = 2.0
    c: float = 10.0
    balanced: bool = True
    sensitive_cost: float = 4.0
    random_state: int = 0

    def __post_init__(self) -> None:
        """Fail fast on a value that cannot work, naming it."""
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be at least 1, got {self.max_chars!r}")
        if not 1 <= self.ngram_min <= self.ngram_max:
            raise ValueError(
                f"need 1 <= ngram_min <= ngram_max, got {self.ngram_min!r}, {self.ngram_max!r}"
            )
        if self.min_df < 1:
            raise ValueError(f"min_df must be at least 1, got {self.min_df!r}")
        for name in ("embedding_weight", "c", "sensitive_cost"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")


def prepare_text(text: str, max_chars: int) -> str:
    """The text the classifier reads: :func:`canonical_text` (valid UTF-8, no control
    characters, NFKC, one space between words), at most ``max_chars`` characters.

    Lone surrogates (bytes decoded with ``surrogateescape``) become ``?``; NUL and other
    control characters become spaces. Being canonical, it hits the encoder's query cache
    when the retriever then embeds the same message.
    """
    return canonical_text(text[: max_chars * 4])[:max_chars]


def model_key(data: TrainingData, encoder: Encoder, config: BuiltinConfig) -> str:
    """The name of the model trained from ``data`` with ``encoder`` and ``config``.

    It covers the data digest, the encoder, the feature and head configuration, this file
    format and the scikit-learn version (its pickles are not portable across versions).

    Returns:
        16 hexadecimal digits.
    """
    import sklearn

    parts = {
        "format": FORMAT_VERSION,
        "data": data.digest,
        "encoder": encoder.name,
        "dim": encoder.dim,
        "config": asdict(config),
        "sklearn": sklearn.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class EmbeddingCache:
    """Query embeddings of training texts, one ``.npz`` file per encoder.

    Embedding thousands of examples takes a minute; with the cache, only texts not seen
    before are encoded (a data edit, a held-out split). Entries are keyed by a hash of the
    prepared text, so the file holds no training text. Written atomically; concurrent
    writers may drop each other's new entries, never corrupt the file.
    """

    def __init__(self, folder: Path, encoder: Encoder) -> None:
        """Use ``folder`` for ``encoder``'s cache file (created on first write)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder.name)
        self.path = folder / f"embeddings-{slug}-{encoder.dim}.npz"
        self.encoder = encoder

    def _read(self) -> dict[str, NDArray[np.float32]]:
        if not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("embedding cache %s unreadable (%s); rebuilding", self.path, exc)
            return {}
        if vectors.ndim != 2 or vectors.shape[1] != self.encoder.dim:
            logger.warning("embedding cache %s has the wrong shape; rebuilding", self.path)
            return {}
        return {str(k): v for k, v in zip(keys, vectors, strict=True)}

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Query embeddings of prepared ``texts``, from the cache or the encoder."""
        known = self._read()
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
        if missing:
            started = time.monotonic()
            vectors = self.encoder.encode_queries([t for _, t in missing])
            known.update((k, v) for (k, _), v in zip(missing, vectors, strict=True))
            logger.info(
                "embedded %d training texts in %.1f s", len(missing), time.monotonic() - started
            )
            self._write(known)
        if not texts:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        return np.stack([known[k] for k in keys]).astype(np.float32)

    def _write(self, known: dict[str, NDArray[np.float32]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".embeddings-", suffix=".npz", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    keys=np.array(list(known), dtype="U64"),
                    vectors=np.stack(list(known.values())).astype(np.float32),
                )
            Path(tmp).replace(self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class BuiltinIntentClassifier:
    """Encoder embeddings + character n-gram TF-IDF → logistic regression.

    Usage example::

        encoder = E5Encoder()
        classifier = BuiltinIntentClassifier.load_or_train(
            encoder, Path("nlu/data"), Path("var/nlu"))
        parse = classifier.parse("老板三个月没发工资了")
        parse.intent, parse.confidence       # ('report_problem', 0.9...)
    """

    backend = "builtin"

    def __init__(
        self,
        encoder: Encoder,
        vectorizer: TfidfVectorizer,
        head: LogisticRegression,
        config: BuiltinConfig,
        key: str,
    ) -> None:
        """Wrap trained parts; use :meth:`train`, :meth:`load` or :meth:`load_or_train`.

        Raises:
            ValueError: when the head knows an intent outside :data:`INTENTS`.
        """
        classes = [str(c) for c in head.classes_]
        unknown = sorted(set(classes) - set(INTENTS))
        if unknown:
            raise ValueError(f"the head has intents outside INTENTS: {unknown}")
        self.encoder = encoder
        self.vectorizer = vectorizer
        self.head = head
        self.config = config
        self.key = key
        self.classes: tuple[str, ...] = tuple(classes)
        self._cost = np.array(
            [config.sensitive_cost if c in SENSITIVE_INTENTS else 1.0 for c in classes]
        )

    # -- training -----------------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        encoder: Encoder,
        data: TrainingData,
        config: BuiltinConfig | None = None,
        *,
        cache: EmbeddingCache | None = None,
    ) -> BuiltinIntentClassifier:
        """Train on ``data``.

        Args:
            encoder: the shared sentence encoder.
            data: the examples (at least two intents).
            config: features and head; the defaults when None.
            cache: reuse embeddings of texts seen before; none when None.

        Returns:
            The trained classifier.

        Raises:
            ValueError: when the data has fewer than two intents.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        config = config if config is not None else BuiltinConfig()
        if len(set(data.intents)) < 2:
            raise ValueError(
                f"training needs at least two intents, got {sorted(set(data.intents))}"
            )
        texts = [prepare_text(t, config.max_chars) for t in data.texts]
        embeddings = cache.embed(texts) if cache is not None else encoder.encode_queries(texts)
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(config.ngram_min, config.ngram_max),
            min_df=config.min_df,
            sublinear_tf=True,
            lowercase=True,
        )
        vectorizer.fit(texts)
        # newton-cg converges to the optimum in a few seconds on these sizes, so the result
        # does not depend on an iteration cap the way lbfgs's does here.
        head = LogisticRegression(
            C=config.c,
            class_weight="balanced" if config.balanced else None,
            solver="newton-cg",
            max_iter=1000,
            random_state=config.random_state,
        )
        features = _features(vectorizer, texts, embeddings, config.embedding_weight)
        head.fit(features, data.intents)
        return cls(encoder, vectorizer, head, config, model_key(data, encoder, config))

    @classmethod
    def load_or_train(
        cls,
        encoder: Encoder,
        data_dir: Path,
        model_dir: Path,
        config: BuiltinConfig | None = None,
        *,
        train: bool = True,
    ) -> BuiltinIntentClassifier:
        """The model for the current data from ``model_dir/<key>/``, trained and saved if absent.

        Args:
            encoder: the shared sentence encoder.
            data_dir: the folder of Rasa-format ``*.yml`` training files.
            model_dir: where models (one folder per key) and the embedding cache live.
            config: features and head; the defaults when None.
            train: train when no usable saved model matches; when False, raise instead.

        Returns:
            The classifier.

        Raises:
            nlu.training.TrainingDataError: for a malformed training file (named).
            FileNotFoundError: when ``data_dir`` has no training file, or ``train`` is False
                and no usable model for the current data is saved (names the folder).
        """
        config = config if config is not None else BuiltinConfig()
        data = load_training_data(data_dir)
        folder = model_dir / model_key(data, encoder, config)
        if (folder / _META).is_file():
            try:
                return cls.load(folder, encoder)
            except (ValueError, OSError, EOFError) as exc:
                if not train:
                    raise FileNotFoundError(f"no usable builtin model at {folder}: {exc}") from exc
                # A cache entry, so rebuilding is safe; say so rather than fail a start-up.
                logger.warning("builtin model %s unreadable (%s); retraining", folder, exc)
        if not train:
            raise FileNotFoundError(
                f"no builtin model for the current training data at {folder}: "
                "run `workright nlu train`"
            )
        started = time.monotonic()
        classifier = cls.train(encoder, data, config, cache=EmbeddingCache(model_dir, encoder))
        logger.info(
            "trained builtin intent model %s on %d examples in %.1f s",
            classifier.key, len(data), time.monotonic() - started,
        )  # fmt: skip
        classifier.save(folder)
        return classifier

    # -- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write the model to ``folder`` (replaced atomically if it exists).

        Files: ``meta.json`` (key, encoder, configuration, intents, versions) and
        ``head.joblib`` (the fitted vectorizer and logistic regression).
        """
        import joblib
        import sklearn

        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            joblib.dump({"vectorizer": self.vectorizer, "head": self.head}, staging / _HEAD)
            meta = {
                "format": FORMAT_VERSION,
                "key": self.key,
                "encoder": self.encoder.name,
                "dim": self.encoder.dim,
                "config": asdict(self.config),
                "classes": list(self.classes),
                "sklearn": sklearn.__version__,
            }
            (staging / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            if folder.exists():
                shutil.rmtree(folder)
            staging.replace(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @classmethod
    def load(cls, folder: Path, encoder: Encoder) -> BuiltinIntentClassifier:
        """Read a model written by :meth:`save`.

        ``head.joblib`` is a pickle: load only folders this project wrote (``var/nlu``).

        Raises:
            ValueError: when the folder's format, encoder or scikit-learn version differs
                from this process's, or its files are malformed (names the folder).
            FileNotFoundError: when a file is missing.
        """
        import joblib
        import sklearn

        meta: Any = json.loads((folder / _META).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError(f"{folder / _META}: not a JSON object")
        expected = {
            "format": FORMAT_VERSION,
            "encoder": encoder.name,
            "dim": encoder.dim,
            "sklearn": sklearn.__version__,
        }
        for field, want in expected.items():
            if meta.get(field) != want:
                raise ValueError(
                    f"{folder}: saved with {field}={meta.get(field)!r}, this process has {want!r}"
                )
        try:
            config = BuiltinConfig(**meta["config"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{folder / _META}: bad 'config' ({exc})") from exc
        try:
            parts: Any = joblib.load(folder / _HEAD)
        except FileNotFoundError:
            raise
        except Exception as exc:
            # A truncated or foreign pickle fails in many ways (KeyError, UnpicklingError, ...).
            raise ValueError(f"{folder / _HEAD}: unreadable ({type(exc).__name__})") from exc
        if not isinstance(parts, dict) or {"vectorizer", "head"} - set(parts):
            raise ValueError(f"{folder / _HEAD}: expected a vectorizer and a head")
        return cls(encoder, parts["vectorizer"], parts["head"], config, str(meta.get("key")))

    # -- classification -----------------------------------------------------------------------
    def parse(self, text: str) -> Parse:
        """Classify one message.

        Any string is accepted: empty, emoji-only, binary junk, or megabytes (only the first
        :attr:`BuiltinConfig.max_chars` characters are read).

        Args:
            text: the message.

        Returns:
            The parse, ``backend="builtin"``, with every intent ranked best first.

        Raises:
            TypeError: when ``text`` is not a string.
            NLUError: when the encoder fails.
        """
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str]) -> list[Parse]:
        """Classify several messages at once (one encoder call); same rules as :meth:`parse`.

        Raises:
            TypeError: when an item is not a string (names its type and position).
            NLUError: when the encoder fails.
        """
        probabilities = self.raw_probabilities(texts) * self._cost
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [self._parse_row(row) for row in probabilities]

    def raw_probabilities(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """The head's probabilities before the sensitive cost, columns in :attr:`classes`.

        For calibration and evaluation; :meth:`parse` is what the assistant uses.

        Raises:
            TypeError: when an item is not a string (names its type and position).
            NLUError: when the encoder fails.
        """
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text #{position} must be str, got {type(text).__name__}")
        prepared = [prepare_text(t, self.config.max_chars) for t in texts]
        if not prepared:
            return np.zeros((0, len(self.classes)))
        try:
            embeddings = self.encoder.encode_queries(prepared)
        except Exception as exc:
            # The message text stays out of the error: only the encoder and the error type.
            raise NLUError(
                f"builtin classifier: encoder {self.encoder.name!r} failed ({type(exc).__name__})"
            ) from exc
        features = _features(self.vectorizer, prepared, embeddings, self.config.embedding_weight)
        probabilities: NDArray[np.float64] = self.head.predict_proba(features)
        return probabilities

    def _parse_row(self, row: NDArray[np.float64]) -> Parse:
        # Ties are broken by INTENTS order so the ranking is fully determined.
        order = sorted(range(len(row)), key=lambda i: (-row[i], INTENTS.index(self.classes[i])))
        ranking = tuple(IntentScore(self.classes[i], float(row[i])) for i in order)
        return Parse(
            intent=ranking[0].name,
            confidence=ranking[0].confidence,
            ranking=ranking,
            backend=self.backend,
        )


def _features(
    vectorizer: TfidfVectorizer,
    texts: Sequence[str],
    embeddings: NDArray[np.float32],
    embedding_weight: float,
) -> sp.csr_matrix:
    dense = sp.csr_matrix(embeddings.astype(np.float64) * embedding_weight)
    return sp.hstack([dense, vectorizer.transform(texts)], format="csr")
