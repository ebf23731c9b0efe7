"""An intent classifier that falls back to another when the first one fails."""

from __future__ import annotations

import dataclasses
import logging
import threading

from nlu.errors import NLUError
from nlu.types import IntentClassifier, Parse

logger = logging.getLogger(__name__)


class FallbackIntentClassifier:
    """Asks ``primary`` first and ``fallback`` when ``primary`` raises :class:`NLUError`.

    Every fallback is logged as a warning (backend and error, never the message text) and
    counted in :attr:`fallbacks`, and the answer is marked ``fallback=True``, so a dead
    Rasa server is visible, never a silent ``None``. Errors of the fallback itself propagate.

    Usage example::

        classifier = FallbackIntentClassifier(rasa_classifier, builtin_classifier)
        parse = classifier.parse("工厂着火了")   # builtin answers if Rasa is down
        if parse.fallback:
            ...
        print(classifier.fallbacks)

    Attributes:
        fallbacks: how many messages the fallback has answered so far.
    """

    def __init__(self, primary: IntentClassifier, fallback: IntentClassifier) -> None:
        """Combine two classifiers.

        Args:
            primary: the configured backend (e.g. :class:`nlu.rasa_http.RasaHttpIntentClassifier`).
            fallback: the backend that answers when ``primary`` fails (the builtin one).

        Raises:
            TypeError: when either is not an :class:`IntentClassifier`.
        """
        for role, classifier in (("primary", primary), ("fallback", fallback)):
            if not isinstance(classifier, IntentClassifier):
                raise TypeError(
                    f"{role} must be an IntentClassifier, got {type(classifier).__name__}"
                )
        self.primary = primary
        self.fallback = fallback
        self.fallbacks = 0
        self._lock = threading.Lock()

    def parse(self, text: str) -> Parse:
        """Classify with ``primary``; on :class:`NLUError`, with ``fallback``.

        Args:
            text: the message.

        Returns:
            The primary's parse, or the fallback's with ``fallback=True``.

        Raises:
            NLUError: when the fallback fails too.
        """
        try:
            return self.primary.parse(text)
        except NLUError as exc:
            with self._lock:
                self.fallbacks += 1
                count = self.fallbacks
            # NLUError messages never hold message text (see nlu.errors).
            logger.warning(
                "intent backend %s failed, %s answered instead (fallback #%d): %s: %s",
                type(self.primary).__name__,
                type(self.fallback).__name__,
                count,
                type(exc).__name__,
                exc,
            )
        return dataclasses.replace(self.fallback.parse(text), fallback=True)
