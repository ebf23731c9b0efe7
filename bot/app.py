"""The composition root: builds every part from the settings, once per process."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from bot.answers import AnswerBuilder
from bot.assistant import Assistant
from bot.config import Settings
from bot.flows.base import Flow
from bot.i18n import Catalogue
from grievance.conversations import ConversationStore
from grievance.crypto import Vault
from grievance.db import make_engine, make_session_factory, migrate
from grievance.stats import QuestionStats
from knowledge_base.corpus import KnowledgeBase
from knowledge_base.encoders import Encoder, USEEncoder, make_encoder, make_second_encoder
from knowledge_base.index import HybridIndex
from knowledge_base.overviews import OverviewTable
from knowledge_base.retrieval import HybridRetriever
from nlu.langid import detect_language
from nlu.safety import LEXICON_PATH, SafetyNet
from nlu.types import IntentClassifier

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class App:
    """Everything a server, a CLI command or a test needs, built once."""

    settings: Settings
    engine: Engine
    vault: Vault
    store: ConversationStore
    catalogue: Catalogue
    kb: KnowledgeBase
    encoder: Encoder
    index: HybridIndex
    assistant: Assistant
    classifier: IntentClassifier | None = None
    services: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Release the database pool and any backend clients."""
        closer = getattr(self.classifier, "close", None)
        if callable(closer):
            closer()
        self.engine.dispose()


def build_encoder(settings: Settings) -> Encoder:
    """The configured sentence encoder (loaded once per process)."""
    return make_encoder(settings.kb.encoder, settings.kb.encoder_model)


def build_app(
    settings: Settings,
    *,
    encoder: Encoder | None = None,
    second_encoder: USEEncoder | None = None,
    kb: KnowledgeBase | None = None,
    index: HybridIndex | None = None,
    build_index: bool = False,
    classifier: IntentClassifier | None = None,
    train_classifier: bool = True,
) -> App:
    """Build the whole application from ``settings``.

    Args:
        settings: the loaded settings.
        encoder: an already loaded encoder to share (tests load it once per session).
        second_encoder: an already loaded second encoder to share; used only when the
            settings ask for one (``kb.second_encoder``).
        kb: an already loaded knowledge base to share.
        index: an already loaded index (built with the encoders from ``kb``) to share.
        build_index: build the search index when it is missing instead of failing.
        classifier: an intent classifier to use instead of the configured one.
        train_classifier: train the builtin classifier if no saved model matches.

    Raises:
        IndexMissingError: no index for these sources and ``build_index`` is False.
        ConfigError / KnowledgeBaseError: invalid settings or sources.
    """
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    vault = settings.open_vault()
    store = ConversationStore(sessions, vault)
    catalogue = Catalogue.load()
    kb = kb or KnowledgeBase.load()
    encoder = encoder or build_encoder(settings)
    if settings.kb.second_encoder == "none":
        second_encoder = None
    elif second_encoder is None:
        second_encoder = make_second_encoder(settings.kb.second_encoder)
    index_dir = settings.resolve(settings.kb.index_dir)
    if index is None:
        index = (
            HybridIndex.load_or_build(kb, encoder, index_dir, second=second_encoder)
            if build_index
            else HybridIndex.load_for(kb, encoder, index_dir, second=second_encoder)
        )
    retriever = HybridRetriever(
        index, encoder, second=second_encoder, second_weight=settings.kb.second_weight,
        overviews=OverviewTable.from_cards(kb.cards.values()),
    )
    if classifier is None:
        classifier = build_classifier(settings, encoder, train=train_classifier)
    safety = SafetyNet.load() if LEXICON_PATH.exists() else None
    services: dict[str, Any] = {"sessions": sessions}
    flows = build_flows(settings, sessions, vault, store, catalogue, services)
    assistant = Assistant(
        store=store,
        vault=vault,
        catalogue=catalogue,
        retriever=retriever,
        answers=AnswerBuilder(kb, catalogue),
        classifier=classifier,
        safety=safety,
        detect_language=detect_language,
        flows=flows,
        is_receipt_code=services.get("is_receipt_code"),
        on_answer=QuestionStats(sessions).record,
        default_language=settings.assistant.default_language,
        default_country=settings.assistant.default_country,
        top_k=settings.kb.top_k,
        min_similarity=settings.kb.min_similarity,
        min_lexical=settings.kb.min_lexical,
        strong_similarity=settings.kb.strong_similarity,
        confidence_threshold=settings.nlu.confidence_threshold,
        max_question_chars=settings.assistant.max_question_chars,
    )
    return App(
        settings=settings, engine=engine, vault=vault, store=store, catalogue=catalogue, kb=kb,
        encoder=encoder, index=index, assistant=assistant, classifier=classifier,
        services=services,
    )


def build_classifier(
    settings: Settings, encoder: Encoder, *, train: bool = True
) -> IntentClassifier:
    """The configured intent classifier: builtin, or Rasa falling back to builtin.

    The builtin model is cached under ``nlu.model_dir/<hash of data, encoder, config>``;
    with ``train`` False a missing model is still trained (it takes seconds), the flag only
    documents intent for callers that measure start-up.
    """
    del train
    from nlu.builtin import BuiltinIntentClassifier
    from nlu.training import DATA_DIR

    builtin = BuiltinIntentClassifier.load_or_train(
        encoder, DATA_DIR, settings.resolve(settings.nlu.model_dir)
    )
    if settings.nlu.backend == "builtin":
        return builtin
    from nlu.fallback import FallbackIntentClassifier
    from nlu.rasa_http import RasaHttpIntentClassifier

    token = settings.secrets.rasa_auth_token
    rasa = RasaHttpIntentClassifier(
        settings.nlu.rasa_url,
        token.get_secret_value() if token else "",
        settings.nlu.rasa_timeout_s,
    )
    return FallbackIntentClassifier(rasa, builtin)


def build_flows(
    settings: Settings,
    sessions: Any,
    vault: Vault,
    store: ConversationStore,
    catalogue: Catalogue,
    services: dict[str, Any],
) -> dict[str, Flow]:
    """The multi-step flows (report, status, delete) and the grievance service.

    The service is also put in ``services["grievance"]`` for the console and the outbox
    senders; ``services["is_receipt_code"]`` spots a receipt code in a message. A moderator's
    reply reaches the worker under a header from the catalogue, in the report's language.
    """
    from bot.flows.delete import DeleteFlow
    from bot.flows.report import ReportFlow
    from bot.flows.status import StatusFlow
    from grievance.codes import find_code
    from grievance.service import GrievanceService

    def reply_header(lang: str | None, category: str, reported: date) -> str:
        lang = lang or settings.assistant.default_language
        return catalogue.text(
            "moderator_reply_header", lang,
            category=catalogue.text(f"report_cat_{category}", lang), date=reported.isoformat(),
        )

    service = GrievanceService(sessions, vault, reply_header=reply_header)
    services["grievance"] = service
    services["is_receipt_code"] = lambda text: find_code(text) is not None
    return {
        "report": ReportFlow(service, catalogue),
        "status": StatusFlow(service, catalogue),
        "delete": DeleteFlow(service, store, catalogue),
    }
