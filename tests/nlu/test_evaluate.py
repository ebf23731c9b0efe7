"""Tests of nlu/evaluate.py: metrics, the questions file, memory readings, and one small run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import nlu.evaluate as evaluate
from knowledge_base.encoders import Encoder
from nlu.errors import NLUError
from nlu.evaluate import (
    evaluate_backends,
    intent_metrics,
    load_questions,
    rss_bytes,
    sensitive_metrics,
    tree_rss_bytes,
)
from nlu.types import INTENTS, Parse


def test_sensitive_metrics() -> None:
    gold = [True, True, True, False, False]
    flagged = [True, True, False, True, False]
    assert sensitive_metrics(gold, flagged) == {
        "n_sensitive": 3,
        "n_flagged": 3,
        "recall": pytest.approx(2 / 3, abs=1e-4),
        "precision": pytest.approx(2 / 3, abs=1e-4),
    }
    nothing = sensitive_metrics([False, False], [False, False])
    assert nothing["recall"] is None and nothing["precision"] is None


def test_intent_metrics() -> None:
    metrics = intent_metrics(
        ["greet", "greet", "thanks", "help"], ["greet", "thanks", "thanks", "help"]
    )
    assert metrics["accuracy"] == 0.75
    # F1: greet 2/3, thanks 2/3, help 1 -> mean 7/9
    assert metrics["macro_f1"] == pytest.approx(7 / 9, abs=1e-4)


def test_questions_file(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"id": 1, "lang": "en", "question": "a", "sensitive": True, "topic": "wages"},
        {"id": 2, "lang": "zh", "question": "b", "sensitive": False},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    questions = load_questions(path)
    assert [(q.text, q.lang, q.sensitive) for q in questions] == [
        ("a", "en", True),
        ("b", "zh", False),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ('{"question": "a"}', "bool 'sensitive'"),
        ('{"question": 3, "sensitive": true}', "string 'question'"),
        ('["a", true]', "string 'question'"),
    ],
)
def test_bad_questions_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "sensitive": false}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as caught:
        load_questions(path)
    assert f"{path}:2" in str(caught.value)


def test_rss_readings() -> None:
    mine = rss_bytes()
    assert mine > 10 * 1024 * 1024
    assert rss_bytes(os.getpid()) > 0
    assert tree_rss_bytes(os.getpid()) >= mine * 0.9
    with pytest.raises(ProcessLookupError):
        rss_bytes(2**22 + 12345)
    assert tree_rss_bytes(2**22 + 12345) == 0


def small_data(folder: Path) -> Path:
    """Six examples per intent in two languages: enough for a split and a head."""
    lines = ['version: "3.1"', "nlu:"]
    for intent in INTENTS:
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {intent.replace('_', ' ')} example number {i}" for i in range(6))
    folder.mkdir()
    (folder / "en.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_small_run_is_one_json_object(
    encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluate, "REPO", tmp_path)  # no .rasa-venv there
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"question": "report problem example number 9", "sensitive": True}) + "\n"
        + json.dumps({"question": "greet example number 9", "sensitive": False}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    report = evaluate_backends(
        lambda: encoder,
        data_dir=small_data(tmp_path / "data"),
        model_dir=tmp_path / "models",
        questions_path=questions,
        rasa=True,
    )
    json.dumps(report)  # printable as it is
    assert report["data"]["n_examples"] == 6 * len(INTENTS)
    assert report["data"]["n_heldout"] == len(INTENTS)  # round(6 * 0.2) per intent
    builtin = report["backends"]["builtin"]
    assert builtin["available"] is True
    for section in ("heldout", "dev"):
        for key in ("sensitive_recall", "sensitive_precision", "latency_ms_p50", "latency_ms_p95"):
            assert key in builtin[section], (section, key)
    assert {"accuracy", "macro_f1", "by_lang"} <= set(builtin["heldout"])
    assert builtin["heldout"]["n"] == len(INTENTS)
    assert builtin["dev"]["n"] == 2
    assert isinstance(builtin["rss_mb"], float)
    assert builtin["in_assistant"]["latency_ms_p50"] is not None
    assert [p["sensitive_cost"] for p in builtin["heldout_operating_points"]] == list(
        evaluate.OPERATING_POINTS
    )
    rasa = report["backends"]["rasa"]
    assert rasa["available"] is False
    assert "make rasa" in rasa["reason"]


def test_rasa_can_be_skipped(encoder: Encoder, tmp_path: Path) -> None:
    report = evaluate_backends(
        lambda: encoder,
        data_dir=small_data(tmp_path / "data"),
        model_dir=tmp_path / "models",
        questions_path=tmp_path / "absent.jsonl",
        rasa=False,
    )
    assert report["backends"]["rasa"] == {"available": False, "reason": "skipped (--no-rasa)"}
    assert report["questions"]["available"] is False
    assert report["backends"]["builtin"]["dev"] is None


def test_added_latency_times_the_classifier_after_the_retrievers_encoding() -> None:
    order: list[str] = []

    class Classifier:
        def parse(self, text: str) -> Parse:
            order.append(f"parse {text}")
            if text == "bad":
                raise NLUError("down")
            return Parse(intent="greet", confidence=1.0, backend="test")

    result = evaluate.added_latency(Classifier(), ["a", "bad", "b"], lambda t: order.append(t))
    assert order == ["a", "parse a", "bad", "parse bad", "b", "parse b"]
    assert result["latency_ms_p50"] is not None and "retriever" in result["note"]
