"""Errors of the NLU layer.

Messages of these errors are logged, so they must never contain the text of a
worker's message: name the backend, the address, the status code or the bad
value, never what the worker wrote.
"""

from __future__ import annotations


class NLUError(Exception):
    """Base class of every error raised by an intent classifier."""


class NLUBackendUnavailable(NLUError):
    """The configured backend could not classify a message.

    Raised on a timeout, a connection error, an HTTP error status or a response
    that is not what the backend promises. Callers fall back to another backend
    (see :class:`nlu.fallback.FallbackIntentClassifier`).
    """
