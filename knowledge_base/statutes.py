"""The statute layer: the official text of each PRC instrument, one passage per article.

Source files (``sources/cn/<CODE>.md``) are the public-domain official texts: a ``# title``
line, dates of adoption and amendment, an ``<!-- INFO END -->`` marker, then chapters
(``## 第一章 …``) and articles beginning ``第N条``. A notice without articles is split at
its ``## 一、`` sections instead. A line that is just ``附录`` or ``附件`` (a colon allowed)
after the articles ends the last article: everything after it, to the end of the file, is
the annex, one passage keyed ``CODE:annex`` (the annex of CN-FEMALE lists the work women
must not do; it is not part of the last article and must not be cited as it). Anything else
is a parse error naming file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from knowledge_base.errors import SourceParseError
from knowledge_base.instruments import ANNEX, INSTRUMENTS
from knowledge_base.numerals import chinese_to_int

SOURCES_DIR = Path(__file__).resolve().parent / "sources"

_ARTICLE_RE = re.compile(r"^第(?P<num>[零〇一二三四五六七八九十百千]+)条(?:[\s　]+|$)(?P<rest>.*)$")
_SECTION_RE = re.compile(r"^##\s+(?P<num>[一二三四五六七八九十]+)(?:、|\s|$)(?P<rest>.*)$")
_CHAPTER_RE = re.compile(r"^#{2,4}\s+(?P<title>.+)$")
_DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
#: A line that starts the annex, after the articles (stripped first).
_ANNEX_RE = re.compile(r"^(?P<word>附录|附件)[：:]?$")


@dataclass(frozen=True, slots=True)
class StatutePassage:
    """One article of one instrument, or its annex.

    Attributes:
        key: the citation key, ``CN-LCL:82``; ``CN-FEMALE:annex`` for an annex.
        code: the instrument code, ``CN-LCL``.
        article: the article number; None for an annex.
        text: the official text of the article (all its paragraphs).
        chapter: the chapter heading it sits under, if any; ``附录`` or ``附件`` for an annex.
        source: the file it came from, relative to ``sources/``.
        line: the line the article starts on (1-based); for an annex, its ``附录`` line.
    """

    key: str
    code: str
    article: int | None
    text: str
    chapter: str
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class StatuteSource:
    """One parsed source file: its title, dates and articles."""

    code: str
    title: str
    dates: tuple[str, ...]
    path: Path
    passages: tuple[StatutePassage, ...]


def parse_source(path: Path, code: str | None = None) -> StatuteSource:
    """Parse one official text into article passages.

    Args:
        path: the ``.md`` file.
        code: the instrument code; by default the file name without extension.

    Raises:
        SourceParseError: naming the file and line of the first problem.
    """
    code = code or path.stem
    where = path.name
    if code not in INSTRUMENTS:
        raise SourceParseError(f"{where}: unknown instrument code {code!r} (file name)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise SourceParseError(f"{where}: not UTF-8 text ({exc})") from exc
    if not lines or not lines[0].startswith("# "):
        raise SourceParseError(f"{where}:1: expected a '# title' line")
    title = lines[0][2:].strip()
    try:
        body_start = next(i for i, line in enumerate(lines) if "<!-- INFO END -->" in line) + 1
    except StopIteration:
        raise SourceParseError(f"{where}: no '<!-- INFO END -->' line after the header") from None
    dates = tuple(
        f"{y}-{int(m):02d}-{int(d):02d}"
        for line in lines[1:body_start]
        for y, m, d in _DATE_RE.findall(line)
    )
    passages = _parse_articles(lines, body_start, code, where)
    if not passages:
        passages = _parse_sections(lines, body_start, code, where)
    if not passages:
        raise SourceParseError(f"{where}: no article (第N条) and no section (## 一、) found")
    return StatuteSource(code=code, title=title, dates=dates, path=path, passages=passages)


def _parse_articles(
    lines: list[str], start: int, code: str, where: str
) -> tuple[StatutePassage, ...]:
    passages: list[StatutePassage] = []
    chapter = ""
    current: tuple[int, int, list[str]] | None = None  # (article, line, paragraphs)
    last = 0  # the last article number flushed

    def flush() -> None:
        nonlocal last
        if current is not None:
            number, line_no, paragraphs = current
            text = "\n".join(p for p in paragraphs if p)
            if not text:
                raise SourceParseError(f"{where}:{line_no}: article {number} has no text")
            passages.append(
                StatutePassage(
                    key=f"{code}:{number}", code=code, article=number, text=text,
                    chapter=chapter, source=f"cn/{where}", line=line_no,
                )
            )
            last = number

    for index in range(start, len(lines)):
        raw = lines[index].strip().replace("\u3000", " ").strip()
        line_no = index + 1
        if not raw:
            continue
        article = _ARTICLE_RE.match(raw)
        if article:
            try:
                number = chinese_to_int(article["num"])
            except ValueError as exc:
                raise SourceParseError(f"{where}:{line_no}: {exc}") from exc
            expected = current[0] + 1 if current is not None else last + 1
            if number != expected:
                raise SourceParseError(
                    f"{where}:{line_no}: article {number} out of sequence (expected {expected})"
                )
            flush()
            current = (number, line_no, [raw])
            continue
        annex = _ANNEX_RE.match(raw)
        if annex and (current is not None or passages):
            flush()
            current = None
            passages.append(_annex_passage(lines, index, annex["word"], code, where))
            break
        heading = _CHAPTER_RE.match(raw)
        if heading:
            flush()
            current = None
            chapter = heading["title"].strip()
            continue
        if current is not None:
            current[2].append(raw)
        elif passages:
            raise SourceParseError(f"{where}:{line_no}: text outside any article")
        # Text before the first article is a preamble: not an article, not cited.
    flush()
    return tuple(passages)


def _parse_sections(
    lines: list[str], start: int, code: str, where: str
) -> tuple[StatutePassage, ...]:
    """A notice without articles: each ``## 一、`` section is cited as an article."""
    passages: list[StatutePassage] = []
    current: tuple[int, int, list[str]] | None = None
    for index in range(start, len(lines)):
        raw = lines[index].strip()
        if not raw:
            continue
        annex = _ANNEX_RE.match(raw)
        if annex and current is not None:
            passages.append(_section_passage(code, where, current))
            passages.append(_annex_passage(lines, index, annex["word"], code, where))
            return tuple(passages)
        section = _SECTION_RE.match(raw)
        if section:
            if current is not None:
                passages.append(_section_passage(code, where, current))
            number = chinese_to_int(section["num"])
            if number != len(passages) + 1:
                raise SourceParseError(f"{where}:{index + 1}: section {number} out of sequence")
            current = (number, index + 1, [raw.lstrip("# ").strip()])
        elif current is not None:
            current[2].append(raw)
    if current is not None:
        passages.append(_section_passage(code, where, current))
    return tuple(passages)


def _section_passage(code: str, where: str, current: tuple[int, int, list[str]]) -> StatutePassage:
    number, line_no, paragraphs = current
    return StatutePassage(
        key=f"{code}:{number}", code=code, article=number, text="\n".join(paragraphs),
        chapter="", source=f"cn/{where}", line=line_no,
    )


def _annex_passage(
    lines: list[str], index: int, word: str, code: str, where: str
) -> StatutePassage:
    """The annex starting at ``lines[index]`` (its ``附录：`` line): every line after it.

    Raises:
        SourceParseError: the annex has no text, or a second annex line follows.
    """
    paragraphs: list[str] = []
    for later in range(index + 1, len(lines)):
        raw = lines[later].strip().replace("\u3000", " ").strip()
        if not raw:
            continue
        if _ANNEX_RE.match(raw):
            raise SourceParseError(
                f"{where}:{later + 1}: a second annex ({raw}); only one annex per source"
            )
        heading = _CHAPTER_RE.match(raw)
        paragraphs.append(heading["title"].strip() if heading else raw)
    if not paragraphs:
        raise SourceParseError(f"{where}:{index + 1}: the annex ({word}) has no text")
    return StatutePassage(
        key=f"{code}:{ANNEX}", code=code, article=None, text="\n".join(paragraphs),
        chapter=word, source=f"cn/{where}", line=index + 1,
    )


def load_statutes(sources_dir: Path = SOURCES_DIR) -> dict[str, StatuteSource]:
    """Parse every ``<jurisdiction>/<CODE>.md`` under ``sources_dir``, by code.

    Raises:
        SourceParseError: for the first file that does not parse.
    """
    result: dict[str, StatuteSource] = {}
    for path in sorted(sources_dir.glob("*/*.md")):
        source = parse_source(path)
        result[source.code] = source
    return result


def passages_by_key(statutes: dict[str, StatuteSource]) -> dict[str, StatutePassage]:
    """Every passage of every source, by citation key."""
    return {p.key: p for s in statutes.values() for p in s.passages}
