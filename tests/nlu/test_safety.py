"""Tests of nlu/safety.py: the matcher (normalisation, categories, urgency), loading, and that
the net can only raise a message to sensitive, never lower it (as ``Assistant.triage`` uses it).

The lexicon's content is checked in test_safety_lexicon_data.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.assistant import Triage
from nlu.safety import URGENT_CATEGORIES, SafetyNet, SafetyResult
from nlu.types import INTENTS

NET = SafetyNet(
    {
        "forced_labour": ["Took My Passport", "扣了我的身份证"],
        "wages_owed": ["拖欠工资", "no pay for"],
        "urgent": ["locked  in", "救命"],
        "self_harm": ["不想活了"],
        "empty": ["", "   "],
    }
)


@pytest.mark.parametrize(
    ("text", "categories"),
    [
        ("they TOOK my passport", ("forced_labour",)),
        ("they took  my\n passport", ("forced_labour",)),
        ("ＴＯＯＫ ＭＹ ＰＡＳＳＰＯＲＴ", ("forced_labour",)),  # full width
        ("老板扣了我的身份证，还拖欠工资", ("forced_labour", "wages_owed")),
        ("we are locked in the dorm", ("urgent",)),
        ("救命！！", ("urgent",)),
        ("我真的不想活了", ("self_harm",)),
        ("what is the minimum wage", ()),
        ("", ()),
        ("   ", ()),
    ],
)
def test_phrases_match_after_normalisation(text: str, categories: tuple[str, ...]) -> None:
    assert NET.check(text).categories == categories


def test_empty_phrases_never_match() -> None:
    assert "empty" not in NET.check("anything at all").categories


@pytest.mark.parametrize(
    ("categories", "sensitive", "urgent"),
    [
        ((), False, False),
        (("wages_owed",), True, False),
        (("forced_labour", "wages_owed"), True, False),
        (("urgent",), True, True),
        (("self_harm",), True, True),
        (("wages_owed", "self_harm"), True, True),
    ],
)
def test_result_sensitive_and_urgent(
    categories: tuple[str, ...], sensitive: bool, urgent: bool
) -> None:
    result = SafetyResult(categories)
    assert result.sensitive is sensitive
    assert result.urgent is urgent


def test_urgent_categories_are_danger_now() -> None:
    assert frozenset({"urgent", "self_harm"}) == URGENT_CATEGORIES


@pytest.mark.parametrize("intent", INTENTS)
def test_the_net_only_raises(intent: str) -> None:
    """A match makes any intent sensitive; no match leaves the intent's verdict as it was."""
    plain = Triage(intent=intent, confidence=0.9)
    missed = Triage(intent=intent, confidence=0.9, safety=NET.check("what is the minimum wage"))
    hit = Triage(intent=intent, confidence=0.9, safety=NET.check("老板拖欠工资"))
    danger = Triage(intent=intent, confidence=0.9, safety=NET.check("救命"))
    assert missed.sensitive == plain.sensitive
    assert missed.urgent == plain.urgent
    assert hit.sensitive
    assert hit.urgent == plain.urgent
    assert danger.sensitive and danger.urgent


def test_sensitive_intents_stay_sensitive_without_a_match() -> None:
    for intent in ("report_problem", "urgent_danger"):
        assert Triage(intent=intent, confidence=0.2, safety=SafetyResult()).sensitive
    assert Triage(intent="urgent_danger", confidence=0.2).urgent
    assert not Triage(intent="report_problem", confidence=0.9).urgent


def test_real_lexicon_loads_and_flags_danger() -> None:
    net = SafetyNet.load()
    assert net.check("我不想活了").urgent
    assert net.check("they took my passport and i cannot go home").sensitive
    assert not net.check("banana").sensitive
    assert not net.check("").sensitive


@pytest.mark.parametrize("apostrophe", ["\u2019", "\u2018", "\u02bc", "`", "\uff07"])
def test_phone_apostrophes_match_the_plain_one(apostrophe: str) -> None:
    net = SafetyNet.load()
    assert net.check(f"i don{apostrophe}t want to live anymore").urgent
    assert net.check(f"they won{apostrophe}t let me leave the factory").sensitive


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a list\n", "expected a 'categories' mapping"),
        ("categories: [a, b]\n", "expected a 'categories' mapping"),
        ("categories:\n  urgent: [help]\n", "category 'urgent' must map languages"),
    ],
)
def test_malformed_lexicon_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "lexicon.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=problem) as caught:
        SafetyNet.load(path)
    assert str(path) in str(caught.value)


def test_lexicon_file_with_languages(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yml"
    path.write_text(
        "categories:\n  urgent:\n    zh: [救命]\n    en: [help me now]\n    vi:\n",
        encoding="utf-8",
    )
    net = SafetyNet.load(path)
    assert net.check("HELP ME NOW").categories == ("urgent",)
    assert net.check("救命啊").urgent
