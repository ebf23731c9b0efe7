"""The console's zh/en texts are complete and used keys exist."""

from __future__ import annotations

import re

import pytest

from grievance.console.app import TEMPLATES_DIR
from grievance.console.texts import ConsoleTexts, pick_language
from grievance.models import CATEGORIES, EVENT_KINDS, ROLES, STATUSES, URGENCIES


def test_every_key_has_both_languages_and_templates_use_only_known_keys():
    texts = ConsoleTexts.load()
    used = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z0-9_]+)'(?! ~)", path.read_text(encoding="utf-8")))
    assert used and all(texts.has(key) for key in used), sorted(k for k in used if not texts.has(k))
    for name in CATEGORIES:
        assert texts.has(f"cat_{name}")
    for name in STATUSES:
        assert texts.has(f"status_{name}")
    for name in ROLES:
        assert texts.has(f"role_{name}")
    for name in URGENCIES:
        assert texts.has(f"urgency_{name}")
    for kind in EVENT_KINDS:
        assert texts.has(f"ev_{kind}")


def test_incomplete_texts_fail_at_load():
    with pytest.raises(ValueError, match="missing en"):
        ConsoleTexts({"hello": {"zh": "你好"}})


def test_language_choice():
    assert pick_language("en", "zh-CN") == "en"
    assert pick_language(None, "en-US,en;q=0.9") == "en"
    assert pick_language("fr", "fr-FR, zh;q=0.5") == "zh"
    assert pick_language(None, None) == "zh"
