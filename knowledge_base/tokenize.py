"""Tokenisation for BM25: jieba for Chinese, words elsewhere, character bigrams for scripts
written without spaces (Khmer, Burmese, Thai)."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_CHUNK_RE = re.compile(r"[^\s!-/:-@\[-`{-~，。！？、；：“”‘’（）《》【】…·]+")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NOSPACE_RE = re.compile(r"[\u1000-\u109f\u1780-\u17ff\u0e00-\u0e7f]")

# Function words that carry no meaning for retrieval.
_STOPWORD_TEXT = """
的 了 吗 呢 吧 啊 呀 是 在 和 与 或 及 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 有 没
就 都 也 还 又 被 把 给 让 对 从 到 为 以 之 其 该 等 要 会 能 可以 怎么 怎么办 怎样 如何 什么
请问 一下 一个 现在 已经 公司 单位
a an the of to in on at for by with and or is are was were be been i me my you your he she it we
they our their what how do does did can could should would will if this that there from as about
not no
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())

_jieba_lock = threading.Lock()
_jieba_ready = False


#: Apostrophe look-alikes that phone keyboards send instead of ``'`` (NFKC keeps them).
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'",
                              "`": "'"})


def normalize(text: str) -> str:
    """The form questions, phrases and documents are compared in: width-folded (NFKC: full-width
    → half-width), case-folded, phone apostrophes made plain (doesn’t → doesn't), spaces
    collapsed. The safety net's lexicon uses it too."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    return " ".join(folded.split())


def _jieba_cut(text: str) -> list[str]:
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    return list(jieba.cut_for_search(text))


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for BM25 (stopwords removed)."""
    norm = normalize(text)
    tokens: list[str] = []
    pieces = _jieba_cut(norm) if _CJK_RE.search(norm) else _CHUNK_RE.findall(norm)
    for piece in pieces:
        piece = piece.strip()
        if not piece or piece in STOPWORDS or not _WORD_RE.search(piece):
            continue
        if _NOSPACE_RE.search(piece) and len(piece) > 2:
            tokens.extend(piece[i : i + 2] for i in range(len(piece) - 1))
        else:
            tokens.append(piece)
    return tokens
