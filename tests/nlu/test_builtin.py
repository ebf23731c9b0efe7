"""Tests of nlu/builtin.py, on the real training data with the real e5 encoder."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge_base.encoders import Encoder
from nlu.builtin import (
    SENSITIVE_INTENTS,
    BuiltinConfig,
    BuiltinIntentClassifier,
    EmbeddingCache,
    prepare_text,
)
from nlu.errors import NLUError
from nlu.evaluate import load_questions, score_questions
from nlu.safety import SafetyNet
from nlu.training import load_training_data
from nlu.types import INTENTS, IntentClassifier

from .conftest import DATA_DIR, MODEL_DIR
from .triage_sets import TRIAGE_FLOORS, TRIAGE_SETS

#: Written for these tests (not training examples, not evaluation questions).
PROBES = (
    "你好呀，请问有人在吗",
    "good morning, anyone here?",
    "banana",
    "今天晚上吃什么好呢",
    "what is the capital of france",
    "我们厂四个月没发工资了 老板也找不到人",
    "my supervisor hit me again today and took my passport",
    "救命 宿舍着火了 门被锁住了",
    "广东的最低工资标准是多少",
    "thank you so much for the help",
)


def test_is_an_intent_classifier(builtin: BuiltinIntentClassifier) -> None:
    assert isinstance(builtin, IntentClassifier)


def test_parse_ranks_every_intent(builtin: BuiltinIntentClassifier) -> None:
    parse = builtin.parse("公司不给我签劳动合同怎么办")
    assert parse.backend == "builtin"
    assert not parse.fallback
    assert parse.intent in INTENTS
    assert {s.name for s in parse.ranking} == set(INTENTS)
    confidences = [s.confidence for s in parse.ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert parse.intent == parse.ranking[0].name
    assert parse.confidence == confidences[0]
    assert sum(confidences) == pytest.approx(1.0)
    assert all(0.0 <= c <= 1.0 for c in confidences)


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("你好呀，请问有人在吗", {"greet"}),
        ("good morning, anyone here?", {"greet"}),
        ("banana", {"out_of_scope"}),
        ("香蕉", {"out_of_scope"}),
        ("今天晚上吃什么好呢", {"out_of_scope"}),
        ("what is the capital of france", {"out_of_scope"}),
        ("thank you so much for the help", {"thanks"}),
        ("广东的最低工资标准是多少", {"ask_rights"}),
        ("how many days of annual leave do workers get", {"ask_rights"}),
    ],
)
def test_clear_messages_are_not_sensitive(
    builtin: BuiltinIntentClassifier, text: str, intents: set[str]
) -> None:
    parse = builtin.parse(text)
    assert parse.intent in intents
    assert parse.intent not in SENSITIVE_INTENTS


@pytest.mark.parametrize(
    "text",
    [
        "我们厂四个月没发工资了 老板也找不到人",
        "my supervisor hit me again today and took my passport",
        "组长天天骂我们 还扣我们的钱",
        "救命 宿舍着火了 门被锁住了",
        "i fell from the ladder at work and the boss refuses to pay the hospital",
    ],
)
def test_reports_are_sensitive(builtin: BuiltinIntentClassifier, text: str) -> None:
    assert builtin.parse(text).intent in SENSITIVE_INTENTS


def test_held_out_quality(encoder: Encoder) -> None:
    """Trained on 80 %, the head classifies the other 20 % well and misses few reports."""
    train, test = load_training_data(DATA_DIR).split()
    model = BuiltinIntentClassifier.train(encoder, train, cache=EmbeddingCache(MODEL_DIR, encoder))
    predicted = [p.intent for p in model.parse_many(test.texts)]
    accuracy = np.mean([p == g for p, g in zip(predicted, test.intents, strict=True)])
    gold = np.array([g in SENSITIVE_INTENTS for g in test.intents])
    flagged = np.array([p in SENSITIVE_INTENTS for p in predicted])
    assert accuracy >= 0.85
    assert (gold & flagged).sum() / gold.sum() >= 0.95
    assert (gold & flagged).sum() / flagged.sum() >= 0.80


@pytest.mark.parametrize(
    ("path", "min_recall", "min_precision"), TRIAGE_FLOORS, ids=[p.name for p in TRIAGE_SETS]
)
def test_triage_on_the_labelled_sets(
    builtin: BuiltinIntentClassifier, path: Path, min_recall: float, min_precision: float
) -> None:
    """Reports in the labelled sets are flagged, and general questions mostly are not."""
    name = path.name
    questions = load_questions(path)
    scores = score_questions(builtin, questions, SafetyNet.load())
    recall, precision = scores["sensitive_recall"], scores["sensitive_precision"]
    assert recall >= min_recall, f"{name}: sensitive recall {recall:.3f} < {min_recall}"
    assert precision >= min_precision, (
        f"{name}: sensitive precision {precision:.3f} < {min_precision}"
    )


def test_training_is_deterministic(encoder: Encoder, builtin: BuiltinIntentClassifier) -> None:
    """A new training gives bit-identical probabilities to the session's model (which was
    trained earlier in this session, or in an earlier run and loaded from disk)."""
    data = load_training_data(DATA_DIR)
    again = BuiltinIntentClassifier.train(encoder, data, cache=EmbeddingCache(MODEL_DIR, encoder))
    assert again.key == builtin.key
    assert np.array_equal(again.raw_probabilities(PROBES), builtin.raw_probabilities(PROBES))
    assert again.parse_many(PROBES) == builtin.parse_many(PROBES)


def test_cached_embeddings_equal_fresh_ones(encoder: Encoder) -> None:
    texts = [prepare_text(t, 512) for t in load_training_data(DATA_DIR).texts[::97]]
    cached = EmbeddingCache(MODEL_DIR, encoder).embed(texts)
    assert np.array_equal(cached, encoder.encode_queries(texts))


def test_parse_many_equals_parse(builtin: BuiltinIntentClassifier) -> None:
    assert builtin.parse_many(PROBES) == [builtin.parse(t) for t in PROBES]
    assert builtin.parse_many([]) == []


def test_save_load_round_trip(
    builtin: BuiltinIntentClassifier, encoder: Encoder, tmp_path: Path
) -> None:
    folder = tmp_path / builtin.key
    builtin.save(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["key"] == builtin.key
    assert meta["encoder"] == encoder.name
    assert meta["classes"] == list(builtin.classes)
    loaded = BuiltinIntentClassifier.load(folder, encoder)
    assert loaded.key == builtin.key
    assert loaded.config == builtin.config
    assert np.array_equal(loaded.raw_probabilities(PROBES), builtin.raw_probabilities(PROBES))
    builtin.save(folder)  # saving over an existing model replaces it
    assert BuiltinIntentClassifier.load(folder, encoder).parse("hi") == builtin.parse("hi")


class _RenamedEncoder:
    """The real encoder under another name (a model saved with another encoder)."""

    def __init__(self, inner: Encoder, name: str) -> None:
        self.inner, self.name, self.dim = inner, name, inner.dim

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_passages(texts)


def test_load_refuses_another_encoder(
    builtin: BuiltinIntentClassifier, encoder: Encoder, tmp_path: Path
) -> None:
    builtin.save(tmp_path / "m")
    with pytest.raises(ValueError, match=r"encoder='e5'.*'other'") as caught:
        BuiltinIntentClassifier.load(tmp_path / "m", _RenamedEncoder(encoder, "other"))
    assert str(tmp_path / "m") in str(caught.value)


def test_load_or_train_trains_once_loads_then_retrains_over_a_broken_model(
    encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # Seed the new model folder with the shared embedding cache so training takes seconds.
    cache = EmbeddingCache(MODEL_DIR, encoder)
    cache.embed([prepare_text(t, 512) for t in load_training_data(DATA_DIR).texts])
    shutil.copy(cache.path, tmp_path / cache.path.name)
    first = BuiltinIntentClassifier.load_or_train(encoder, DATA_DIR, tmp_path)
    assert (tmp_path / first.key / "meta.json").is_file()

    train = BuiltinIntentClassifier.train

    def no_training(*args: object, **kwargs: object) -> BuiltinIntentClassifier:
        raise AssertionError("trained although a saved model matches")

    monkeypatch.setattr(BuiltinIntentClassifier, "train", no_training)
    second = BuiltinIntentClassifier.load_or_train(encoder, DATA_DIR, tmp_path)
    assert second.key == first.key
    assert second.parse_many(PROBES) == first.parse_many(PROBES)

    monkeypatch.setattr(BuiltinIntentClassifier, "train", train)
    (tmp_path / first.key / "head.joblib").write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING, logger="nlu.builtin"):
        third = BuiltinIntentClassifier.load_or_train(encoder, DATA_DIR, tmp_path)
    assert "unreadable" in caplog.text and "retraining" in caplog.text
    assert third.parse_many(PROBES) == first.parse_many(PROBES)
    assert BuiltinIntentClassifier.load(tmp_path / first.key, encoder).key == first.key


def test_load_or_train_without_training_names_the_missing_folder(
    encoder: Encoder, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match="workright nlu train") as caught:
        BuiltinIntentClassifier.load_or_train(encoder, DATA_DIR, tmp_path, train=False)
    assert str(tmp_path) in str(caught.value)


def test_corrupt_head_is_a_value_error_naming_the_file(
    builtin: BuiltinIntentClassifier, encoder: Encoder, tmp_path: Path
) -> None:
    builtin.save(tmp_path / "m")
    (tmp_path / "m" / "head.joblib").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(ValueError, match="head.joblib: unreadable"):
        BuiltinIntentClassifier.load(tmp_path / "m", encoder)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😂😂🙏",
        "👍🏽👨‍👩‍👧",
        "\x00\x01\x02\x7f",
        "\udcff\udcfe binary \x00 junk",
        "".join(chr(c) for c in range(0x20, 0x800, 7)),
        "老板" * 50_000,
        "x" * 1_000_000,
    ],
    ids=["empty", "spaces", "emoji", "emoji-zwj", "controls", "surrogates", "mixed", "long-zh",
         "long-x"],
)  # fmt: skip
def test_odd_input_does_not_crash(builtin: BuiltinIntentClassifier, text: str) -> None:
    parse = builtin.parse(text)
    assert parse.intent in INTENTS
    assert len(parse.ranking) == len(INTENTS)


def test_long_text_is_read_up_to_max_chars(builtin: BuiltinIntentClassifier) -> None:
    head = "我们厂四个月没发工资了 老板也找不到人 " * 40
    assert len(head) > builtin.config.max_chars
    assert builtin.parse(head + "x" * 100_000) == builtin.parse(head)


@pytest.mark.parametrize("bad", [None, b"bytes", 42, ["a list"]])
def test_non_text_is_a_type_error(builtin: BuiltinIntentClassifier, bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        builtin.parse(bad)  # type: ignore[arg-type]


class _BrokenEncoder:
    name = "e5"
    dim = 384

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError(f"engine failed on {texts[0]!r}")

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("engine failed")


def test_encoder_failure_is_an_nlu_error_without_the_text(
    builtin: BuiltinIntentClassifier,
) -> None:
    broken = BuiltinIntentClassifier(
        _BrokenEncoder(), builtin.vectorizer, builtin.head, builtin.config, builtin.key
    )
    with pytest.raises(NLUError) as caught:
        broken.parse("my boss Li hit me")
    assert "RuntimeError" in str(caught.value)
    assert "boss" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_chars", 0),
        ("ngram_min", 0),
        ("ngram_max", 0),
        ("min_df", 0),
        ("embedding_weight", -1.0),
        ("c", 0.0),
        ("sensitive_cost", float("nan")),
        ("sensitive_cost", 0),
    ],
)
def test_config_rejects_bad_values(field: str, value: float) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field.split("_")[0]):
        BuiltinConfig(**kwargs)


def test_training_needs_two_intents(encoder: Encoder) -> None:
    data = load_training_data(DATA_DIR)
    only_greet = type(data).of(e for e in data.examples if e.intent == "greet")
    with pytest.raises(ValueError, match="at least two intents"):
        BuiltinIntentClassifier.train(encoder, only_greet)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Ｈｅｌｌｏ\u3000 world \n", "Hello world"),
        ("a\x00b\x07c", "a b c"),
        ("\udcff", "?"),
        ("ab" * 10, "ab" * 5),
    ],
)
def test_prepare_text(text: str, expected: str) -> None:
    assert prepare_text(text, 10 if len(text) == 20 else 512) == expected
