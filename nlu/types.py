"""Values and protocols of the NLU layer: what an intent classifier promises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

#: Every intent the assistant understands. Training data may not use others.
INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "help",
    "ask_rights",
    "report_problem",
    "urgent_danger",
    "check_status",
    "talk_to_human",
    "choose_language",
    "choose_country",
    "delete_my_data",
    "feedback",
    "out_of_scope",
)


@dataclass(frozen=True, slots=True)
class IntentScore:
    """One intent and the classifier's confidence in it (0..1)."""

    name: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Parse:
    """What a classifier made of one message.

    Attributes:
        intent: the best intent, one of :data:`INTENTS`.
        confidence: its confidence, 0..1.
        ranking: all scored intents, best first.
        backend: which backend produced it (``"builtin"``, ``"rasa"``, ...).
        fallback: True when the configured backend failed and another answered.
    """

    intent: str
    confidence: float
    ranking: tuple[IntentScore, ...] = field(default_factory=tuple)
    backend: str = "builtin"
    fallback: bool = False


@runtime_checkable
class IntentClassifier(Protocol):
    """Maps a message text to an intent.

    Usage example::

        classifier = BuiltinIntentClassifier.train(encoder, load_training_data(NLU_DATA))
        parse = classifier.parse("老板拖欠工资三个月了")
        assert parse.intent in INTENTS
    """

    def parse(self, text: str) -> Parse:
        """Classify one message; never returns None, raises ``NLUError`` on failure."""
        ...
