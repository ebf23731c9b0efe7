"""Checks on the safety lexicon, ``nlu/safety_lexicon.yml``.

The lexicon lists danger phrases, per category and language, that raise a message to
"sensitive". It is hand-written in seven languages: these tests keep it complete (every category
in every language), clean (no empty, one-character or duplicate phrases), within its size limits,
and written in the form the matcher compares against (lowercase, width-folded, single spaces).
A small set of messages also pins down the intent of the lists: general questions and everyday
chat must not match, and plain danger reports must match their category. Matching follows the
rule documented in the file, through the matcher itself (``nlu.safety``): case-insensitive
substring matching after folding full-width characters and phone apostrophes and collapsing
spaces.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_base.tokenize import normalize
from nlu.safety import SafetyNet

LEXICON = Path(__file__).resolve().parents[2] / "nlu" / "safety_lexicon.yml"

CATEGORIES = (
    "urgent",
    "forced_labour",
    "wages_owed",
    "violence_threats",
    "sexual_harassment",
    "child_labour",
    "injury_disease",
    "retaliation",
    "self_harm",
)
LANGUAGES = ("zh", "en", "vi", "id", "bn", "km", "my")

#: Phrases per list: Chinese and English are the primary languages and get more.
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    lang: ((8, 30) if lang in ("zh", "en") else (5, 15)) for lang in LANGUAGES
}

MIN_PHRASE_CHARS = 2


@cache
def load() -> dict[str, Any]:
    with LEXICON.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{LEXICON.name}: top level must be a mapping"
    return data


def categories() -> dict[str, Any]:
    cats = load().get("categories")
    assert isinstance(cats, dict), f"{LEXICON.name}: 'categories' must be a mapping"
    return cats


def phrases(category: str, lang: str) -> list[Any]:
    entry = categories().get(category)
    assert isinstance(entry, dict), f"category {category!r} missing or not a mapping of languages"
    value = entry.get(lang)
    assert isinstance(value, list), f"{category}/{lang}: missing, or not a list of phrases"
    return value


@cache
def net() -> SafetyNet:
    return SafetyNet.load(LEXICON)


def matches(text: str) -> set[str]:
    """Categories whose phrases occur in ``text``, as the safety net finds them."""
    return set(net().check(text).categories)


CASES = [(c, lang) for c in CATEGORIES for lang in LANGUAGES]


def case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


def test_lexicon_loads_with_version() -> None:
    assert LEXICON.exists(), f"missing {LEXICON}"
    assert load().get("version") == 1


def test_no_unknown_categories() -> None:
    unknown = sorted(set(categories()) - set(CATEGORIES))
    assert not unknown, f"unknown categories {unknown}; known: {list(CATEGORIES)}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_category_in_every_language(case: tuple[str, str]) -> None:
    category, lang = case
    assert phrases(category, lang), f"{category}/{lang}: no phrases"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_phrases_are_non_empty_strings_of_two_or_more_characters(case: tuple[str, str]) -> None:
    category, lang = case
    bad = [
        p
        for p in phrases(category, lang)
        if not isinstance(p, str) or len(p.strip()) < MIN_PHRASE_CHARS
    ]
    assert not bad, f"{category}/{lang}: empty, non-text or too short phrases {bad!r}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_no_duplicates_within_a_list(case: tuple[str, str]) -> None:
    category, lang = case
    seen: set[str] = set()
    duplicates: list[str] = []
    for p in phrases(category, lang):
        key = normalize(str(p))
        if key in seen:
            duplicates.append(str(p))
        seen.add(key)
    assert not duplicates, f"{category}/{lang}: duplicate phrases {duplicates!r}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_list_size_within_limits(case: tuple[str, str]) -> None:
    category, lang = case
    low, high = SIZE_LIMITS[lang]
    n = len(phrases(category, lang))
    assert low <= n <= high, f"{category}/{lang}: {n} phrases, expected {low}..{high}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_phrases_are_in_matching_form(case: tuple[str, str]) -> None:
    """An upper-case, full-width or double-spaced phrase would never match a normalised text."""
    category, lang = case
    unnormalised = [p for p in phrases(category, lang) if normalize(str(p)) != p]
    assert not unnormalised, (
        f"{category}/{lang}: write these lowercase, half-width, single-spaced: {unnormalised!r}"
    )


#: General questions and everyday chat: a moderator should never have to read these. Several
#: contain a word that an over-broad phrase would catch (打人事电话, 跳楼价, "defined",
#: "punched in", "pukul 8", "đánh giá", Khmer វាយតម្លៃ, Burmese ဓာတ်ပုံရိုက် and သတ်မှတ်), or the
#: legal topic of a report without a case of the writer's (押金, 讨薪, 私了, "deducted").
BENIGN = [
    "工伤怎么认定",
    "入职要交押金吗",
    "讨薪一般要多久",
    "私了合法吗",
    "尘肺病怎么鉴定等级",
    "what can be deducted from wages",
    "is a deposit for uniforms legal",
    "withholding tax on overtime pay",
    "加班费怎么算",
    "年假有几天",
    "我要打人事电话问一下社保",
    "双十一跳楼价的手机哪里买",
    "香蕉",
    "how is overtime defined",
    "how many days of annual leave do i get",
    "i punched in at 8 today",
    "i scraped my knee playing football",
    "banana",
    "lương tối thiểu vùng 1 bao nhiêu",
    "đánh giá nhân viên cuối năm thế nào",
    "jam kerja mulai pukul 8 pagi",
    "cuti tidak dibayar itu apa",
    "ন্যূনতম মজুরি কত",
    "বছরে কত দিন ছুটি পাওয়া যায়",
    "ការវាយតម្លៃការងារប្រចាំឆ្នាំ",
    "ខ្ញុំធ្វើការកាត់ដេរ",
    "ဓာတ်ပုံရိုက်ချင်တယ်",
    "ဥပဒေမှာ သတ်မှတ်ထားတဲ့ လုပ်ခ ဘယ်လောက်လဲ",
]


@pytest.mark.parametrize("text", BENIGN)
def test_general_questions_and_chat_do_not_match(text: str) -> None:
    assert not matches(text), f"{text!r} matched {sorted(matches(text))}"


#: Plain danger reports, each with the category it must at least raise.
DANGER = [
    ("老板拖欠工资三个月了", "wages_owed"),
    ("入职交了300块押金，现在辞职不退", "forced_labour"),
    ("they deducted my wages for being late", "wages_owed"),
    ("他们把我锁在宿舍", "urgent"),
    ("我真的不想活了", "urgent"),
    ("they took my passport and i cannot go home", "forced_labour"),
    ("my supervisor beat me yesterday", "violence_threats"),
    ("i want to kill myself", "urgent"),
    ("công ty nợ lương 3 tháng rồi", "wages_owed"),
    ("tôi muốn tự tử", "self_harm"),
    ("paspor saya ditahan agen", "forced_labour"),
    ("saya ingin bunuh diri", "self_harm"),
    ("তিন মাস ধরে বেতন পাই না", "wages_owed"),
    ("আমি আত্মহত্যা করতে চাই", "self_harm"),
    ("ខ្ញុំចង់សម្លាប់ខ្លួន", "self_harm"),
    ("មេការវាយខ្ញុំរាល់ថ្ងៃ", "violence_threats"),
    ("သတ်သေချင်တယ်", "self_harm"),
    ("ဒီလ လစာ မပေးဘူး", "wages_owed"),
]


@pytest.mark.parametrize(("text", "category"), DANGER)
def test_danger_reports_match_their_category(text: str, category: str) -> None:
    assert category in matches(text), f"{text!r} should match {category}, got {matches(text)}"
