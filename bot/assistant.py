"""The Assistant: one message in, replies out, whatever the channel.

Order of work for each message (DESIGN, "The flow of one message"):
de-duplicate → load state → language → a flow in progress → commands → safety and intent
→ answer, offer the report path, or ask what the worker means.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.answers import AnswerBuilder
from bot.flows.base import Flow, Turn
from bot.i18n import LANGUAGE_NAMES, Catalogue
from bot.messages import Button, Message, Reply
from grievance.conversations import ConversationState, ConversationStore
from grievance.crypto import Vault
from grievance.errors import StorageUnavailable
from knowledge_base.instruments import LANGUAGES
from knowledge_base.retrieval import Hit, Retriever
from nlu.safety import SafetyNet, SafetyResult
from nlu.types import IntentClassifier, Parse

logger = logging.getLogger(__name__)

#: Countries a worker can choose; only those with national law in the knowledge base get
#: national answers, the others international standards.
COUNTRIES: tuple[str, ...] = ("CN", "VN", "ID", "BD", "KH", "MM")
NATIONAL_LAW: frozenset[str] = frozenset({"CN"})

SENSITIVE_INTENTS: frozenset[str] = frozenset({"report_problem", "urgent_danger"})
_TOKEN_RE = re.compile(r"^[a-z]+:\S*$")
_STALE_BUTTON_RE = re.compile(r"^(report|status|delete):[a-z0-9_:-]*$")
_COMMAND_RE = re.compile(r"^/(?P<name>[a-z_]+)(?:@\w+)?(?:\s+(?P<arg>.*))?$", re.S | re.I)


@dataclass(frozen=True, slots=True)
class Triage:
    """What the assistant made of a free-text message before answering it."""

    intent: str
    confidence: float
    safety: SafetyResult = field(default_factory=SafetyResult)

    @property
    def sensitive(self) -> bool:
        """True when the report path (or emergency help) should be offered."""
        return self.intent in SENSITIVE_INTENTS or self.safety.sensitive

    @property
    def urgent(self) -> bool:
        """True when emergency numbers come first."""
        return self.intent == "urgent_danger" or self.safety.urgent


class Assistant:
    """Handles one message at a time; channels call :meth:`handle` and send the replies.

    Args:
        store: conversation state and de-duplication.
        vault: pseudonyms (and encryption, used by the flows).
        catalogue: every interface text.
        retriever: finds cards and articles.
        answers: renders hits.
        classifier: the intent classifier; None treats every free text as a rights question.
        safety: the danger lexicon; None disables the net (tests only).
        detect_language: returns a language code or None when unsure.
        flows: multi-step flows by name (``report``, ``status``, ``delete``).
        is_receipt_code: spots a receipt code in a message (then the status flow answers).
        on_answer: called with the topic of each answered question (text-free statistics
            for the moderators' dashboard).
        default_language: for workers whose language is not known yet.
        default_country: the jurisdiction before the worker chooses one.
        top_k: results offered per question.
        min_similarity: below it "not sure" ...
        min_lexical: ... and between it and ``strong_similarity`` an answer needs at least
            this BM25 score (some words in common), so a fluent off-topic message is not
            answered with whatever card happens to be nearest.
        strong_similarity: at or above it the similarity alone is enough.
        confidence_threshold: below it a clarifying question instead of a guess.
        max_question_chars: longer questions are searched by their beginning.
    """

    def __init__(
        self,
        *,
        store: ConversationStore,
        vault: Vault,
        catalogue: Catalogue,
        retriever: Retriever,
        answers: AnswerBuilder,
        classifier: IntentClassifier | None = None,
        safety: SafetyNet | None = None,
        detect_language: Callable[..., str | None] | None = None,
        flows: dict[str, Flow] | None = None,
        is_receipt_code: Callable[[str], bool] | None = None,
        on_answer: Callable[[str], object] | None = None,
        default_language: str = "zh",
        default_country: str | None = None,
        top_k: int = 3,
        min_similarity: float = 0.80,
        min_lexical: float = 1.0,
        strong_similarity: float = 0.88,
        confidence_threshold: float = 0.45,
        max_question_chars: int = 2000,
    ) -> None:
        if default_language not in LANGUAGES:
            raise ValueError(f"default_language {default_language!r} not in {LANGUAGES}")
        if top_k <= 0:
            raise ValueError(f"top_k must be greater than 0, got {top_k}")
        self.store = store
        self.vault = vault
        self.catalogue = catalogue
        self.retriever = retriever
        self.answers = answers
        self.classifier = classifier
        self.safety = safety
        self.detect_language = detect_language
        self.flows = flows or {}
        self.is_receipt_code = is_receipt_code
        self.on_answer = on_answer
        self.default_language = default_language
        self.default_country = default_country
        self.top_k = top_k
        self.min_similarity = min_similarity
        self.min_lexical = min_lexical
        self.strong_similarity = strong_similarity
        self.confidence_threshold = confidence_threshold
        self.max_question_chars = max_question_chars

    # -- entry point --------------------------------------------------------------------------
    def handle(self, message: Message) -> list[Reply]:
        """Answer one message. Never raises for bad input; a redelivery gets no reply.

        Raises:
            Exception: only unexpected programming errors; channels catch them at their
                boundary and tell the worker how to reach a person.
        """
        user_ref = self.vault.pseudonym(message.channel, message.user)
        claimed = False
        try:
            if message.message_id:
                if not self.store.claim(message.channel, message.message_id, user_ref):
                    logger.info("duplicate delivery channel=%s user=%s", message.channel, user_ref)
                    return []
                claimed = True
            state = self.store.load(user_ref, message.channel)
            replies = self._handle(message, state)
            self.store.save(state)
        except StorageUnavailable:
            if claimed and message.message_id:
                self.store.release(message.channel, message.message_id)
            logger.warning("storage unavailable channel=%s user=%s", message.channel, user_ref)
            lang = self.default_language
            return [Reply(text=self.catalogue.text("try_again", lang))]
        except Exception:
            # Let a redelivery of this message be handled again once the fault is fixed.
            if claimed and message.message_id:
                self.store.release(message.channel, message.message_id)
            raise
        return replies

    # -- the conversation ---------------------------------------------------------------------
    def _handle(self, message: Message, state: ConversationState) -> list[Reply]:
        raw = message.text if isinstance(message.text, str) else ""
        text = _clean(raw)
        welcome: list[Reply] = []
        if state.is_new:
            state.country = state.country or self.default_country
        self._update_language(state, text)
        lang = state.lang or self.default_language
        if state.is_new and not text.startswith("/start"):
            welcome = [self._welcome(lang)]

        turn = Turn(message=message, state=state, lang=lang, text=text)
        if state.flow and state.flow in self.flows:
            replies = self.flows[state.flow].handle(turn)
            if self.safety is not None and self.safety.check(text).urgent:
                # Danger mentioned in the middle of a report: emergency numbers come first.
                replies = [Reply(text=self.catalogue.text("emergency", lang)), *replies]
            return welcome + replies
        if state.flow:  # a flow that no longer exists: drop it rather than trap the worker
            state.flow, state.flow_data = None, {}

        if _is_binary(raw):
            return welcome + [Reply(text=self.catalogue.text("not_text", lang))]
        if not text:
            return welcome + [self._prompt(lang, "empty_message")]
        command = self._command(turn)
        if command is not None:
            return welcome + command
        if self.is_receipt_code and "status" in self.flows and self.is_receipt_code(text):
            return welcome + self.flows["status"].start(turn)
        if not any(ch.isalnum() for ch in text):
            return welcome + [self._prompt(lang, "emoji_only")]
        return welcome + self._free_text(turn)

    def _update_language(self, state: ConversationState, text: str) -> None:
        # Button values, commands and receipt codes say nothing about the worker's language.
        machine_text = (
            text.startswith("/")
            or _TOKEN_RE.match(text) is not None
            or (self.is_receipt_code is not None and self.is_receipt_code(text))
        )
        if state.lang_chosen or not self.detect_language or machine_text:
            if state.lang is None:
                state.lang = self.default_language
            return
        # Two words are enough to start in a language, three to switch away from one.
        detected = self.detect_language(text, min_words=2 if state.lang is None else 3) if text \
            else None
        if detected in LANGUAGES:
            state.lang = detected
        elif state.lang is None:
            state.lang = self.default_language

    def _command(self, turn: Turn) -> list[Reply] | None:
        text, lang, state = turn.text, turn.lang, turn.state
        if text.startswith("lang:"):
            code = text[5:].strip()
            if code in LANGUAGES:
                state.lang, state.lang_chosen = code, True
                replies = [Reply(text=self.catalogue.text("language_set", code))]
                if state.country is None:
                    # First set-up (/start): the country decides which law answers.
                    replies.append(self._country_menu(code))
                return replies
            return [self._language_menu(lang)]
        if text.startswith("country:"):
            return [self._set_country(state, text[8:].strip().upper(), lang)]
        if text.startswith("law:"):
            return [self.answers.law(text[4:].strip(), lang)]
        if text.startswith("open:"):
            return self._open(text[5:].strip(), lang)
        if _STALE_BUTTON_RE.match(text):
            # A button of a flow that has ended (an old message scrolled back to): a consent
            # button starts a new report, any other gets the help menu.
            if text.startswith("report:consent") and "report" in self.flows:
                return self.flows["report"].start(turn)
            return [self._help(lang)]
        if text == "more":
            refs = state.last_results
            state.last_results = []
            return [self.answers.more(refs, lang)]
        match = _COMMAND_RE.match(text)
        if match is None:
            return None
        name, arg = match["name"].lower(), (match["arg"] or "").strip()
        if name == "start":
            return [self._welcome(lang), self._language_menu(lang)]
        if name == "help":
            return [self._help(lang)]
        if name == "language":
            return [self._language_menu(lang)]
        if name == "country":
            return [self._country_menu(lang)]
        if name == "human":
            return [self._human(lang)]
        if name in ("report", "status", "delete") and name in self.flows:
            flow_turn = Turn(message=turn.message, state=state, lang=lang, text=arg)
            return self.flows[name].start(flow_turn)
        return [self._help(lang)]

    def _free_text(self, turn: Turn) -> list[Reply]:
        lang = turn.lang
        triage = self.triage(turn.text)
        logger.info(
            "triage user=%s intent=%s confidence=%.2f sensitive=%s urgent=%s",
            turn.state.user_ref, triage.intent, triage.confidence, triage.sensitive, triage.urgent,
        )
        replies: list[Reply] = []
        if triage.urgent:
            replies.append(Reply(text=self.catalogue.text("emergency", lang)))
        intent = triage.intent
        if not triage.sensitive:
            simple = self._simple_intent(intent, lang)
            if simple is not None:
                return simple
            if intent == "talk_to_human":
                return [self._human(lang)]
            if intent in ("check_status", "delete_my_data") and intent_flow(intent) in self.flows:
                return self.flows[intent_flow(intent)].start(turn)
            if intent == "choose_language":
                return [self._language_menu(lang)]
            if intent == "choose_country":
                return [self._country_menu(lang)]
            if triage.confidence < self.confidence_threshold and intent != "ask_rights":
                return [self._clarify(lang)]
        answer = self._answer(turn, triage)
        if triage.sensitive:
            replies.extend(answer[:1] if answer and answer[0].citations else [])
            replies.append(self._offer_report(lang))
            return replies
        return replies + answer

    def triage(self, text: str) -> Triage:
        """Intent and safety of a free-text message (also used by ``workright eval``)."""
        parse = (
            self.classifier.parse(text) if self.classifier is not None
            else Parse(intent="ask_rights", confidence=1.0, backend="none")
        )
        safety = self.safety.check(text) if self.safety is not None else SafetyResult()
        return Triage(intent=parse.intent, confidence=parse.confidence, safety=safety)

    def search(self, text: str, lang: str, country: str | None) -> list[Hit]:
        """Retrieval for a question, within the worker's jurisdiction."""
        question = text[: self.max_question_chars]
        return self.retriever.search(question, lang, country, self.top_k)

    def _answer(self, turn: Turn, triage: Triage) -> list[Reply]:
        lang, state = turn.lang, turn.state
        hits = self.search(turn.text, lang, state.country)
        confident = bool(hits) and self.is_confident(hits[0])
        if not confident:
            state.last_results = []
            if triage.sensitive:
                return []
            return [Reply(
                text=self.catalogue.text("not_sure", lang),
                buttons=(Button(self.catalogue.text("btn_human", lang), "/human"),),
            )]
        state.last_results = [h.ref for h in hits[1:]]
        if self.on_answer is not None:
            self.on_answer(self.answers.topic_of(hits[0]))
        replies = []
        if len(turn.text) > self.max_question_chars:
            replies.append(Reply(text=self.catalogue.text("too_long", lang)))
        replies.append(self.answers.answer(hits[0], lang, more=len(hits) > 1))
        return replies

    def is_confident(self, hit: Hit) -> bool:
        """Whether ``hit`` is good enough to show as an answer (else "not sure")."""
        if hit.similarity >= self.strong_similarity:
            return True
        return hit.similarity >= self.min_similarity and hit.lexical >= self.min_lexical

    def _open(self, ref: str, lang: str) -> list[Reply]:
        if ref in self.answers.kb.cards or ref in self.answers.kb.passages:
            hit_cites = (
                tuple(self.answers.kb.cards[ref].cites) if ref in self.answers.kb.cards else (ref,)
            )
            hit = Hit(ref=ref, kind="card" if ref in self.answers.kb.cards else "statute",
                      cites=hit_cites, score=0.0, similarity=1.0, lexical=0.0, topic=None,
                      jurisdiction="")
            return [self.answers.answer(hit, lang, more=False)]
        return [Reply(text=self.catalogue.text("law_not_found", lang))]

    # -- fixed replies --------------------------------------------------------------------------
    def _simple_intent(self, intent: str, lang: str) -> list[Reply] | None:
        keys = {"greet": None, "help": None, "goodbye": "goodbye", "thanks": "thanks_reply",
                "feedback": "feedback_thanks", "out_of_scope": "out_of_scope"}
        if intent not in keys:
            return None
        key = keys[intent]
        if key is None:
            return [self._help(lang)]
        if intent == "out_of_scope":
            return [self._prompt(lang, key)]
        return [Reply(text=self.catalogue.text(key, lang))]

    def _welcome(self, lang: str) -> Reply:
        return Reply(text=self.catalogue.text("welcome", lang))

    def _help(self, lang: str) -> Reply:
        return Reply(
            text=self.catalogue.text("help", lang),
            buttons=(
                Button(self.catalogue.text("btn_report", lang), "/report"),
                Button(self.catalogue.text("btn_human", lang), "/human"),
                Button(self.catalogue.text("btn_language", lang), "/language"),
            ),
        )

    def _prompt(self, lang: str, key: str) -> Reply:
        return Reply(
            text=self.catalogue.text(key, lang),
            buttons=(
                Button(self.catalogue.text("btn_report", lang), "/report"),
                Button(self.catalogue.text("btn_human", lang), "/human"),
            ),
        )

    def _clarify(self, lang: str) -> Reply:
        return Reply(
            text=self.catalogue.text("clarify", lang),
            buttons=(
                Button(self.catalogue.text("btn_ask", lang), "/help"),
                Button(self.catalogue.text("btn_report", lang), "/report"),
                Button(self.catalogue.text("btn_human", lang), "/human"),
            ),
        )

    def _offer_report(self, lang: str) -> Reply:
        return Reply(
            text=self.catalogue.text("offer_report", lang),
            buttons=(
                Button(self.catalogue.text("btn_report", lang), "/report"),
                Button(self.catalogue.text("btn_human", lang), "/human"),
            ),
        )

    def _human(self, lang: str) -> Reply:
        return Reply(
            text=self.catalogue.text("human", lang),
            buttons=(Button(self.catalogue.text("btn_report", lang), "/report"),),
        )

    def _language_menu(self, lang: str) -> Reply:
        return Reply(
            text=self.catalogue.text("choose_language", lang),
            buttons=tuple(Button(LANGUAGE_NAMES[code], f"lang:{code}") for code in LANGUAGES),
        )

    def _country_menu(self, lang: str) -> Reply:
        buttons = [Button(self.catalogue.text(f"country_{c}", lang), f"country:{c}")
                   for c in COUNTRIES]
        buttons.append(Button(self.catalogue.text("country_other", lang), "country:OTHER"))
        return Reply(text=self.catalogue.text("choose_country", lang), buttons=tuple(buttons))

    def _set_country(self, state: ConversationState, code: str, lang: str) -> Reply:
        if code not in COUNTRIES and code != "OTHER":
            return self._country_menu(lang)
        name = self.catalogue.text(f"country_{code}" if code != "OTHER" else "country_other", lang)
        if code == "OTHER":
            state.country = "INTL"
            return Reply(text=self.catalogue.text("country_intl_only", lang, country=name))
        state.country = code
        if code not in NATIONAL_LAW:
            return Reply(text=self.catalogue.text("country_intl_only", lang, country=name))
        return Reply(text=self.catalogue.text("country_set", lang, country=name))


def intent_flow(intent: str) -> str:
    """The flow that serves an intent (``check_status`` → ``status``)."""
    return {"check_status": "status", "delete_my_data": "delete", "report_problem": "report"}.get(
        intent, intent
    )


def _clean(text: str) -> str:
    """Strip control characters (keeping line breaks) and surrounding space."""
    kept = [
        ch for ch in text
        if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")
    ]
    return "".join(kept).replace("\ufffd", "").strip()


def _is_binary(text: str) -> bool:
    """True for payloads that are not text: NUL bytes, many control or replacement chars."""
    if not text:
        return False
    if "\x00" in text:
        return True
    bad = sum(
        1 for ch in text
        if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    )
    return bad > max(3, len(text) // 10)
