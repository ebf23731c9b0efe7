"""Checks on the Rasa-format intent training data in ``nlu/data/*.yml``.

The data is hand-written, in several languages, by several people: these tests keep it loadable
by Rasa 3.x and by the builtin classifier, restricted to the known intents, large enough per
intent, free of duplicates and entity markup, and disjoint from the held-out evaluation set.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlu.types import INTENTS

from .triage_sets import TRIAGE_SETS

DATA_DIR = Path(__file__).resolve().parents[2] / "nlu" / "data"
DEV_SET = Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev.jsonl"

#: Minimum examples per intent, by language (the file's stem). Chinese and English are the
#: primary training languages; the others need enough to anchor each intent.
MIN_EXAMPLES_PER_INTENT: dict[str, int] = {
    "zh": 40,
    "en": 40,
    "vi": 10,
    "id": 10,
    "bn": 10,
    "km": 10,
    "my": 10,
}

#: Rasa entity annotations: ``[text](entity)``, ``[text]{"entity": ...}``.
ENTITY_MARKUP = re.compile(r"\[[^\]\n]*\]\s*[({]")

DATA_FILES = sorted(DATA_DIR.glob("*.yml"))


def normalise(text: str) -> str:
    """Fold case, width, whitespace and punctuation, so near-identical texts compare equal.

    A text made only of punctuation ("???", "。。。") keeps its characters, so that such lines
    are still told apart from each other rather than all folding to the empty string.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(
        ch for ch in folded if not ch.isspace() and not unicodedata.category(ch).startswith("P")
    )
    return kept or "".join(folded.split())


def load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def intent_examples(path: Path) -> list[tuple[str, str]]:
    """Every ``(intent, example)`` of a file, in file order; fails on a malformed block."""
    pairs: list[tuple[str, str]] = []
    for block in load(path).get("nlu") or []:
        if "intent" not in block:
            continue  # synonym/regex/lookup blocks carry no intent examples
        examples = block.get("examples")
        assert isinstance(examples, str), (
            f"{path.name}: intent {block['intent']!r} needs an 'examples: |' block of lines"
        )
        for line in examples.splitlines():
            if not line.strip():
                continue
            assert line.startswith("- "), (
                f"{path.name}: intent {block['intent']!r}: line {line!r} does not start with '- '"
            )
            example = line[2:].strip()
            assert example, f"{path.name}: intent {block['intent']!r} has an empty example"
            pairs.append((block["intent"], example))
    return pairs


def file_id(path: Path) -> str:
    return path.name


def test_chinese_and_english_data_exist() -> None:
    names = {path.name for path in DATA_FILES}
    assert {"zh.yml", "en.yml"} <= names, f"missing training data in {DATA_DIR}: found {names}"


@pytest.mark.parametrize("path", DATA_FILES, ids=file_id)
def test_file_is_rasa_3_1_nlu_data(path: Path) -> None:
    data = load(path)
    assert isinstance(data, dict), f"{path.name}: top level must be a mapping"
    # Unquoted, 3.1 would be read as a float; Rasa wants the string.
    assert data.get("version") == "3.1", (
        f'{path.name}: version must be the string "3.1", got {data.get("version")!r}'
    )
    assert isinstance(data.get("nlu"), list), f"{path.name}: 'nlu' must be a list of blocks"
    assert intent_examples(path), f"{path.name}: no intent examples"


@pytest.mark.parametrize("path", DATA_FILES, ids=file_id)
def test_only_known_intents(path: Path) -> None:
    used = {intent for intent, _ in intent_examples(path)}
    unknown = sorted(used - set(INTENTS))
    assert not unknown, f"{path.name}: unknown intents {unknown}; known: {list(INTENTS)}"


@pytest.mark.parametrize("lang", sorted(MIN_EXAMPLES_PER_INTENT))
def test_enough_examples_per_intent(lang: str) -> None:
    path = DATA_DIR / f"{lang}.yml"
    if not path.exists():
        pytest.skip(f"no training data for {lang!r} yet ({path.name} absent)")
    minimum = MIN_EXAMPLES_PER_INTENT[lang]
    counts = Counter(intent for intent, _ in intent_examples(path))
    short = {intent: counts[intent] for intent in INTENTS if counts[intent] < minimum}
    assert not short, f"{path.name}: fewer than {minimum} examples for {short}"


@pytest.mark.parametrize("path", DATA_FILES, ids=file_id)
def test_no_duplicate_examples(path: Path) -> None:
    first_seen: dict[str, tuple[str, str]] = {}
    duplicates: list[str] = []
    for intent, example in intent_examples(path):
        key = normalise(example)
        if key in first_seen:
            other_intent, other = first_seen[key]
            duplicates.append(f"{intent}: {example!r} ~ {other_intent}: {other!r}")
        else:
            first_seen[key] = (intent, example)
    assert not duplicates, f"{path.name}: duplicate examples:\n" + "\n".join(duplicates)


@pytest.mark.parametrize("path", DATA_FILES, ids=file_id)
def test_no_entity_markup(path: Path) -> None:
    marked = [
        f"{intent}: {example!r}"
        for intent, example in intent_examples(path)
        if ENTITY_MARKUP.search(example)
    ]
    assert not marked, f"{path.name}: entity markup is not used:\n" + "\n".join(marked)


def _trained_on(questions: set[str]) -> list[str]:
    """Training examples whose normalised text is one of ``questions`` (named by file and
    intent; only the training side is printed)."""
    return [
        f"{path.name} {intent}: {example!r}"
        for path in DATA_FILES
        for intent, example in intent_examples(path)
        if normalise(example) in questions
    ]


def test_no_training_example_is_a_dev_question() -> None:
    if not DEV_SET.exists():
        pytest.skip(f"held-out dev set not found at {DEV_SET}; overlap not checked")
    dev_questions: set[str] = set()
    with DEV_SET.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                dev_questions.add(normalise(json.loads(line)["question"]))
    leaked = _trained_on(dev_questions)
    # Only the training side is printed: the dev questions stay unread.
    assert not leaked, "training examples equal to a dev-set question:\n" + "\n".join(leaked)


@pytest.mark.parametrize("path", TRIAGE_SETS, ids=file_id)
def test_the_sensitive_sets_are_well_formed_and_not_trained_on(path: Path) -> None:
    """The labelled triage sets (``triage_sets.py``) measure triage (`workright nlu eval
    --questions PATH`); they must never leak into training."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
    assert len({r["id"] for r in rows}) == len(rows) >= 100
    assert all(isinstance(r["sensitive"], bool) and r["question"].strip() for r in rows)
    leaked = _trained_on({normalise(r["question"]) for r in rows})
    assert not leaked, f"training examples equal to a {path.name} question:\n" + "\n".join(leaked)
