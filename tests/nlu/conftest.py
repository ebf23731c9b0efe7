"""Fixtures of the NLU tests: the builtin classifier trained once per session on the real data.

The encoder is the session's real e5 (``tests/conftest.py``). The model and the embedding cache
live in ``var/nlu`` like ``make run``'s, so a second run of the suite loads instead of training.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.encoders import Encoder
from nlu.builtin import BuiltinIntentClassifier

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "nlu" / "data"
MODEL_DIR = ROOT / "var" / "nlu"


@pytest.fixture(scope="session")
def builtin(encoder: Encoder) -> BuiltinIntentClassifier:
    """The builtin classifier for the current training data (trained if no saved model matches)."""
    return BuiltinIntentClassifier.load_or_train(encoder, DATA_DIR, MODEL_DIR)
