"""Answer cards: one provision in plain words, in every card language, with next steps.

Cards live in ``sources/cards/*.yml`` (one file per instrument family). The schema is
checked by pydantic; :func:`check_cards` then reports every problem at once: unknown
citation key, an article missing from the statute layer, a missing language, a text over
length, a duplicate id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge_base import strict_yaml
from knowledge_base.instruments import CARD_LANGUAGES, INSTRUMENTS, parse_key
from knowledge_base.statutes import SOURCES_DIR, StatutePassage
from knowledge_base.tokenize import normalize

CARDS_DIR = SOURCES_DIR / "cards"
MAX_TEXT = 600
MAX_TITLE = 40
MAX_QUESTION = 200
MAX_QUESTIONS = 8

Topic = Literal[
    "wages", "minimum_wage", "overtime", "working_hours", "rest_leave", "contract", "probation",
    "dismissal_severance", "social_insurance", "injury_safety", "child_labour", "forced_labour",
    "discrimination", "harassment_violence", "freedom_of_association", "maternity",
    "dispute_resolution", "migrant_recruitment_fees", "other",
]
TOPICS: tuple[str, ...] = Topic.__args__  # type: ignore[attr-defined]


class Card(BaseModel):
    """One answer card, as written in the YAML sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    cites: list[str] = Field(min_length=1, max_length=3)
    jurisdiction: str = Field(pattern=r"^(INTL|[A-Z]{2})$")
    topic: Topic
    source_url: str = Field(pattern=r"^https?://")
    title: dict[str, str]
    text: dict[str, str]
    actions: dict[str, list[str]] = Field(default_factory=dict)
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    questions: dict[str, list[str]] = Field(default_factory=dict)
    """Questions as workers might ask them that this card answers: the card's scope, for
    writers and reviewers, and a reachability test (tests/knowledge_base). Not indexed:
    measured, these written questions pulled real workers' messages to the wrong card by
    their incidental details (see the #3 issue note)."""
    overview: dict[str, list[str]] = Field(default_factory=dict)
    """For a card that lays out what to do about one common problem: per language, phrases
    that name the problem (不发工资, no contract). A question made of one of them and words
    any question has (老板, 怎么办 …) gets this card first: see
    :mod:`knowledge_base.overviews`. Not indexed."""

    @field_validator("cites")
    @classmethod
    def _cites_are_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            parse_key(key)  # raises ValueError naming the bad key
        return value

    @property
    def key(self) -> str:
        """The main citation (the first)."""
        return self.cites[0]


@dataclass(frozen=True, slots=True)
class CardSource:
    """A card and where it was written (file and position), for error messages."""

    card: Card
    path: Path
    index: int


def load_cards(cards_dir: Path = CARDS_DIR) -> tuple[list[CardSource], list[str]]:
    """Read every card file; return the cards that parse and the problems found.

    Problems are strings naming the file and card (``cn_wages.yml #3 (id): ...``).
    """
    cards: list[CardSource] = []
    problems: list[str] = []
    for path in sorted(cards_dir.glob("*.yml")):
        try:
            data: Any = strict_yaml.load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        if data is None:
            continue
        if not isinstance(data, list):
            problems.append(f"{path.name}: expected a list of cards")
            continue
        for index, raw in enumerate(data, start=1):
            label = f"{path.name} #{index}"
            if isinstance(raw, dict) and "id" in raw:
                label += f" ({raw['id']})"
            try:
                cards.append(CardSource(card=Card.model_validate(raw), path=path, index=index))
            except ValidationError as exc:
                for error in exc.errors():
                    where = ".".join(str(p) for p in error["loc"]) or "card"
                    problems.append(f"{label}: {where}: {error['msg']}")
    return cards, problems


def check_cards(
    cards: list[CardSource], passages: dict[str, StatutePassage]
) -> list[str]:
    """Every problem in ``cards`` against the statute layer, all at once."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    asked: dict[str, str] = {}
    overviews: dict[tuple[str, str], str] = {}
    for source in cards:
        card = source.card
        label = f"{source.path.name} #{source.index} ({card.id})"
        if card.id in seen:
            problems.append(f"{label}: duplicate id, first in {seen[card.id]}")
        else:
            seen[card.id] = source.path.name
        for key in card.cites:
            ck = parse_key(key)
            if ck.instrument.has_text and ck.article is not None and key not in passages:
                problems.append(f"{label}: cites {key}, an article the statute layer lacks")
        if card.jurisdiction != "INTL" and INSTRUMENTS[card.cites[0].split(":")[0]].jurisdiction \
                not in (card.jurisdiction, "INTL"):
            problems.append(f"{label}: jurisdiction {card.jurisdiction} does not match {card.key}")
        for lang in CARD_LANGUAGES:
            for field_name, mapping in (("text", card.text), ("title", card.title)):
                value = mapping.get(lang, "").strip()
                if not value:
                    problems.append(f"{label}: {field_name} missing in {lang}")
            if len(card.text.get(lang, "")) > MAX_TEXT:
                problems.append(
                    f"{label}: text.{lang} is {len(card.text[lang])} characters (max {MAX_TEXT})"
                )
            if len(card.title.get(lang, "")) > MAX_TITLE:
                problems.append(
                    f"{label}: title.{lang} is {len(card.title[lang])} characters (max {MAX_TITLE})"
                )
            if not card.actions.get(lang):
                problems.append(f"{label}: actions missing in {lang}")
        problems += _check_questions(card, label, asked)
        problems += _check_overview(card, label, overviews)
    return problems


def _check_overview(card: Card, label: str, claimed: dict[tuple[str, str], str]) -> list[str]:
    """Problems in a card's overview phrases; ``claimed`` maps each (language, phrase) seen
    so far to its card, so a phrase naming two cards' problems is reported."""
    problems: list[str] = []
    for lang, phrases in card.overview.items():
        if lang not in CARD_LANGUAGES:
            problems.append(f"{label}: overview phrases in unknown language {lang!r}")
        for phrase in phrases:
            text = normalize(phrase)
            if not text:
                problems.append(f"{label}: an empty overview phrase in {lang}")
            elif claimed.setdefault((lang, text), card.id) != card.id:
                problems.append(
                    f"{label}: overview phrase {phrase!r} also names {claimed[(lang, text)]}"
                )
    return problems


def _check_questions(card: Card, label: str, asked: dict[str, str]) -> list[str]:
    """Problems in a card's example questions; ``asked`` maps each question seen so far to
    its card, so one question pointing at two cards is reported."""
    problems: list[str] = []
    for lang, questions in card.questions.items():
        if lang not in CARD_LANGUAGES:
            problems.append(f"{label}: questions in unknown language {lang!r}")
        if len(questions) > MAX_QUESTIONS:
            problems.append(
                f"{label}: {len(questions)} questions in {lang} (max {MAX_QUESTIONS})"
            )
        for question in questions:
            text = question.strip()
            if not text:
                problems.append(f"{label}: an empty question in {lang}")
            elif len(text) > MAX_QUESTION:
                problems.append(
                    f"{label}: a question in {lang} is {len(text)} characters "
                    f"(max {MAX_QUESTION}): {text[:30]}…"
                )
            elif asked.setdefault(text, card.id) != card.id:
                problems.append(f"{label}: question {text!r} is also asked in {asked[text]}")
    return problems
