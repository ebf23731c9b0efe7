"""The Rasa backend of the intent classifier: a client of a Rasa server's ``POST /model/parse``."""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any, Self

import httpx

from nlu.errors import NLUBackendUnavailable
from nlu.types import INTENTS, IntentScore, Parse

# Rasa's confidences are float32 softmax outputs; a top score may round to just above 1.
_FLOAT32_SLACK = 1e-5


class RasaHttpIntentClassifier:
    """Classifies messages with a Rasa 3.x server over HTTP.

    Rasa checks ``--auth-token`` in the query string, so the token is in every request URL:
    keep the ``httpx`` logger at WARNING or above (its INFO lines print URLs). No error
    raised here holds the token, the message text or the response body (Rasa echoes the
    text back).

    Usage example::

        classifier = RasaHttpIntentClassifier("http://127.0.0.1:5005", token, timeout_s=2.0)
        try:
            parse = classifier.parse("老板拖欠工资三个月了")
        finally:
            classifier.close()
    """

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        """Create the client (no request is sent yet).

        Args:
            url: the server's base URL, e.g. ``http://127.0.0.1:5005``.
            token: the server's ``--auth-token``.
            timeout_s: the limit, in seconds, on each phase of one parse (connecting,
                sending, reading the answer).

        Raises:
            ValueError: when the URL is not http(s), the token is empty or the timeout is
                not a positive number.
        """
        base = url.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if not token:
            raise ValueError("token must not be empty: the Rasa server needs --auth-token")
        if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self.url = base
        self.timeout_s = float(timeout_s)
        self._client = httpx.Client(
            base_url=base,
            params={"token": token},
            timeout=httpx.Timeout(self.timeout_s),
            follow_redirects=False,
            # The server is ours, on loopback or the local network: no proxy from the env.
            trust_env=False,
        )

    def parse(self, text: str) -> Parse:
        """Classify one message with the Rasa server.

        Args:
            text: the message.

        Returns:
            The parse, with ``backend="rasa"`` and the ranking best first.

        Raises:
            NLUBackendUnavailable: on a timeout, a connection error, an HTTP error status,
                a body that is not JSON, or an answer without a known intent.
        """
        try:
            response = self._client.post("/model/parse", json={"text": text})
        except httpx.TimeoutException:
            raise NLUBackendUnavailable(
                f"Rasa at {self.url} did not answer within {self.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise NLUBackendUnavailable(
                f"Rasa at {self.url} could not be reached: {type(exc).__name__}"
            ) from None
        if response.status_code != httpx.codes.OK:
            raise NLUBackendUnavailable(
                f"Rasa at {self.url} answered HTTP {response.status_code} to /model/parse"
            )
        try:
            body = response.json()
        except ValueError:
            raise NLUBackendUnavailable(
                f"Rasa at {self.url} answered /model/parse with a body that is not JSON"
            ) from None
        return _to_parse(body, self.url)

    def close(self) -> None:
        """Close the HTTP connection pool. Safe to call twice."""
        self._client.close()

    def __enter__(self) -> Self:
        """Use the classifier as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the classifier."""
        self.close()


def _to_parse(body: Any, url: str) -> Parse:
    """Map Rasa's ``/model/parse`` answer to a :class:`Parse`, checking every value."""
    if not isinstance(body, dict):
        raise NLUBackendUnavailable(
            f"Rasa at {url} answered /model/parse with JSON {type(body).__name__}, not an object"
        )
    best = _score(body.get("intent"), url, "intent")
    raw_ranking = body.get("intent_ranking", [])
    if not isinstance(raw_ranking, list):
        raise NLUBackendUnavailable(
            f"Rasa at {url} answered an intent_ranking of type {type(raw_ranking).__name__}"
        )
    ranking = [_score(item, url, "intent_ranking") for item in raw_ranking]
    if not ranking:
        ranking = [best]
    ranking.sort(key=lambda score: score.confidence, reverse=True)
    return Parse(
        intent=best.name,
        confidence=best.confidence,
        ranking=tuple(ranking),
        backend="rasa",
    )


def _score(item: Any, url: str, where: str) -> IntentScore:
    if not isinstance(item, dict):
        raise NLUBackendUnavailable(f"Rasa at {url} answered no {where} object")
    name, confidence = item.get("name"), item.get("confidence")
    if name not in INTENTS:
        # Intent names come from our own training data, so they are safe to name here.
        raise NLUBackendUnavailable(
            f"Rasa at {url} answered intent {name!r} in {where}, which is not one of INTENTS "
            "(was the model trained from nlu/data?)"
        )
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0.0 <= confidence <= 1.0 + _FLOAT32_SLACK
    ):
        raise NLUBackendUnavailable(
            f"Rasa at {url} answered confidence {confidence!r} for {name!r}, not in 0..1"
        )
    return IntentScore(name=str(name), confidence=min(float(confidence), 1.0))
