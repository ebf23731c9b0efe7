"""Rasa-format NLU training data: loading, a content hash, and a stratified held-out split.

Both backends train from the same ``nlu/data/*.yml`` files (Rasa 3.x NLU format). This module
reads them for the builtin classifier and for evaluation, and writes a subset back in the same
format so Rasa can be trained on exactly the examples the builtin classifier saw.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge_base.instruments import LANGUAGES
from nlu.types import INTENTS

#: The project's training files (``nlu/data/*.yml``), shared by the builtin and Rasa backends.
DATA_DIR = Path(__file__).resolve().parent / "data"

#: Language of a file whose name carries none (``extra_danger.yml``): several languages.
MIXED_LANGUAGE = "mul"

_YAML_SUFFIXES = (".yml", ".yaml")


class TrainingDataError(ValueError):
    """A training file is malformed; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """One labelled example.

    Attributes:
        text: the example text, stripped.
        intent: one of :data:`nlu.types.INTENTS`.
        lang: the language, from the file name (see :func:`language_of`).
    """

    text: str
    intent: str
    lang: str


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Examples in file order, with a hash of their content.

    Attributes:
        examples: every example, files in name order, examples in file order.
        digest: a SHA-256 (hex) of the examples' intents, languages and texts in order;
            formatting and comments do not change it, any example does.
    """

    examples: tuple[TrainingExample, ...]
    digest: str

    @classmethod
    def of(cls, examples: Iterable[TrainingExample]) -> TrainingData:
        """Wrap examples, computing their digest."""
        items = tuple(examples)
        return cls(examples=items, digest=_digest(items))

    def __len__(self) -> int:
        """The number of examples."""
        return len(self.examples)

    @property
    def texts(self) -> list[str]:
        """The example texts, in order."""
        return [e.text for e in self.examples]

    @property
    def intents(self) -> list[str]:
        """The example intents, in order."""
        return [e.intent for e in self.examples]

    def split(
        self, test_fraction: float = 0.2, seed: int = 13
    ) -> tuple[TrainingData, TrainingData]:
        """A deterministic held-out split, stratified by intent and language.

        Within each (intent, language) stratum the examples are ordered by a seeded hash of
        their normalised text and the first ``round(n * test_fraction)`` go to the test side.
        An example therefore stays on its side when others are added, and texts equal up to
        case and width always land on the same side (no leak from a duplicate).

        Args:
            test_fraction: the share of each stratum held out, in (0, 1).
            seed: changes which examples are held out.

        Returns:
            ``(train, test)``, each in the original order.

        Raises:
            ValueError: when ``test_fraction`` is not in (0, 1).
        """
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        strata: dict[tuple[str, str], list[str]] = defaultdict(list)
        stratum_of: dict[str, tuple[str, str]] = {}
        for example in self.examples:
            key = _normal(example.text)
            if key not in stratum_of:
                stratum_of[key] = (example.intent, example.lang)
                strata[stratum_of[key]].append(key)
        held_out: set[str] = set()
        for keys in strata.values():
            ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}\0{k}".encode()).digest())
            held_out.update(ranked[: round(len(ranked) * test_fraction)])
        train = [e for e in self.examples if _normal(e.text) not in held_out]
        test = [e for e in self.examples if _normal(e.text) in held_out]
        return TrainingData.of(train), TrainingData.of(test)


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _digest(examples: Sequence[TrainingExample]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.lang}\0{example.intent}\0{example.text}\n".encode())
    return digest.hexdigest()


def language_of(path: Path) -> str:
    """The language of a training file, from its name.

    ``zh.yml`` is Chinese; ``extra_danger_zh.yml`` or ``extra_danger.zh.yml`` too (the last
    ``_``- or ``.``-separated part); a name without a known language code (``extra_danger.yml``)
    holds several languages, :data:`MIXED_LANGUAGE`.
    """
    stem = path.name
    for suffix in _YAML_SUFFIXES:
        stem = stem.removesuffix(suffix)
    last = stem.replace(".", "_").rsplit("_", 1)[-1]
    return last if last in LANGUAGES else MIXED_LANGUAGE


def load_training_file(path: Path) -> list[TrainingExample]:
    """Read one Rasa 3.x NLU file.

    Blocks without ``intent`` (``synonym``, ``regex``, ``lookup``) are skipped. ``examples``
    is either a ``|`` block of ``- text`` lines or a list of ``{text: ...}`` mappings.

    Args:
        path: the YAML file.

    Returns:
        Its examples, in file order.

    Raises:
        TrainingDataError: naming the file, when it is not valid YAML, lacks ``version`` or
            ``nlu``, uses an unknown intent, or has a malformed or empty example.
        OSError: when it cannot be read.
    """
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrainingDataError(f"{path}: not valid YAML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(data, dict):
        raise TrainingDataError(f"{path}: the top level must be a mapping with 'version' and 'nlu'")
    if "version" not in data:
        raise TrainingDataError(f"{path}: missing 'version' (Rasa 3.x data needs version: \"3.1\")")
    blocks = data.get("nlu")
    if not isinstance(blocks, list):
        raise TrainingDataError(f"{path}: 'nlu' must be a list of blocks, got {blocks!r:.60}")
    lang = language_of(path)
    examples: list[TrainingExample] = []
    for number, block in enumerate(blocks, start=1):
        if not isinstance(block, dict):
            raise TrainingDataError(f"{path}: nlu block {number} is not a mapping")
        if "intent" not in block:
            continue
        intent = block["intent"]
        if intent not in INTENTS:
            raise TrainingDataError(
                f"{path}: nlu block {number}: unknown intent {intent!r}; known: {list(INTENTS)}"
            )
        for text in _block_texts(path, intent, block.get("examples")):
            examples.append(TrainingExample(text=text, intent=intent, lang=lang))
    return examples


def _block_texts(path: Path, intent: str, raw: Any) -> list[str]:
    where = f"{path}: intent {intent!r}"
    texts: list[str] = []
    if isinstance(raw, str):
        for line in raw.splitlines():
            if not line.strip():
                continue
            if not line.lstrip().startswith("- "):
                raise TrainingDataError(f"{where}: example line does not start with '- ': {line!r}")
            texts.append(line.lstrip()[2:].strip())
    elif isinstance(raw, list):
        for item in raw:
            text = item.get("text") if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise TrainingDataError(f"{where}: list examples need a 'text' string: {item!r}")
            texts.append(text.strip())
    else:
        raise TrainingDataError(f"{where}: 'examples' must be a '|' block of '- ' lines")
    if any(not text for text in texts):
        raise TrainingDataError(f"{where}: an example is empty")
    if not texts:
        raise TrainingDataError(f"{where}: no examples")
    return texts


def training_files(data_dir: Path) -> list[Path]:
    """The ``*.yml``/``*.yaml`` files of a folder, sorted by name.

    Raises:
        FileNotFoundError: when the folder holds none.
    """
    files = sorted(p for p in data_dir.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.yml training files in {data_dir}")
    return files


def load_training_data(source: Path | Sequence[Path]) -> TrainingData:
    """Read every training file of a folder (or the given files).

    Args:
        source: a folder (its ``*.yml`` files, by name) or a list of files.

    Returns:
        All examples with their digest.

    Raises:
        TrainingDataError: naming the file, for a malformed file.
        FileNotFoundError: when there is no training file.
    """
    files = training_files(source) if isinstance(source, Path) else list(source)
    if not files:
        raise FileNotFoundError("no training files given")
    return TrainingData.of(e for path in files for e in load_training_file(path))


def write_rasa_nlu(examples: Iterable[TrainingExample], path: Path) -> None:
    """Write examples as one Rasa 3.1 NLU file (intents in :data:`INTENTS` order).

    Used to train Rasa on exactly the training side of a split.
    """
    by_intent: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example.text)
    blocks = [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in by_intent[intent])}
        for intent in INTENTS
        if by_intent[intent]
    ]
    text = yaml.safe_dump(
        {"version": "3.1", "nlu": blocks}, allow_unicode=True, sort_keys=False, width=10_000
    )
    path.write_text(text, encoding="utf-8")
