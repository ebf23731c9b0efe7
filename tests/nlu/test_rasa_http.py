"""Tests of nlu/rasa_http.py and nlu/fallback.py.

Unit tests talk real HTTP to a small fake Rasa server on 127.0.0.1; the integration test
starts the real Rasa 3.6 server (from `make rasa`) through nlu/rasa_server.py.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from nlu.errors import NLUBackendUnavailable, NLUError
from nlu.fallback import FallbackIntentClassifier
from nlu.rasa_http import RasaHttpIntentClassifier
from nlu.rasa_server import RasaLayout, RasaServer, find_python310, free_port
from nlu.types import INTENTS, IntentClassifier, IntentScore, Parse

REPO = Path(__file__).resolve().parents[2]
TOKEN = "t0k3n-for-tests"
SECRET_TEXT = "my boss Zhang at factory 42 hit me"


def rasa_answer(text: str, ranking: list[tuple[str, float]]) -> dict[str, Any]:
    """A /model/parse answer shaped like Rasa 3.6's."""
    name, confidence = ranking[0]
    return {
        "text": text,
        "intent": {"name": name, "confidence": confidence},
        "entities": [],
        "text_tokens": [[0, len(text)]],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
    }


@dataclass
class FakeRasa:
    """What the fake server answers, and what it was asked."""

    status: int = 200
    body: Any = None  # JSON-able answer; None means a well-formed answer for the text
    raw: bytes | None = None  # sent as is when set (for bad JSON)
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def make_handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"null")
            fake.requests.append(
                {"path": parts.path, "query": parse_qs(parts.query), "json": payload}
            )
            if fake.delay_s:
                fake.release.wait(fake.delay_s)
            if parse_qs(parts.query).get("token") != [TOKEN]:
                self._send(401, json.dumps({"status": "failure", "reason": "NotAuthenticated"}))
                return
            if fake.raw is not None:
                self._send(fake.status, fake.raw)
                return
            body = fake.body
            if body is None:
                body = rasa_answer(payload["text"], [("ask_rights", 0.9), ("report_problem", 0.1)])
            self._send(fake.status, json.dumps(body))

        def _send(self, status: int, body: str | bytes) -> None:
            data = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fake_rasa() -> Iterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def classifier(fake_rasa: tuple[FakeRasa, str]) -> Iterator[RasaHttpIntentClassifier]:
    _, url = fake_rasa
    with RasaHttpIntentClassifier(url, TOKEN, timeout_s=2.0) as classifier:
        yield classifier


class FixedClassifier:
    """A stand-in builtin classifier that always answers the same."""

    def __init__(self, intent: str = "ask_rights") -> None:
        self.intent = intent
        self.texts: list[str] = []

    def parse(self, text: str) -> Parse:
        self.texts.append(text)
        return Parse(self.intent, 0.5, (IntentScore(self.intent, 0.5),), backend="builtin")


class BrokenClassifier:
    def parse(self, text: str) -> Parse:
        raise NLUBackendUnavailable("the builtin model is not loaded")


def assert_private(message: str) -> None:
    assert SECRET_TEXT not in message
    assert TOKEN not in message


# --- RasaHttpIntentClassifier ------------------------------------------------------------


def test_parse_maps_rasa_answer_to_parse(fake_rasa, classifier):
    fake, _ = fake_rasa
    fake.body = rasa_answer(
        "x", [("report_problem", 0.8), ("urgent_danger", 0.15), ("ask_rights", 0.05)]
    )

    parse = classifier.parse(SECRET_TEXT)

    assert isinstance(classifier, IntentClassifier)
    assert parse == Parse(
        intent="report_problem",
        confidence=0.8,
        ranking=(
            IntentScore("report_problem", 0.8),
            IntentScore("urgent_danger", 0.15),
            IntentScore("ask_rights", 0.05),
        ),
        backend="rasa",
        fallback=False,
    )


def test_parse_posts_text_with_auth_token(fake_rasa, classifier):
    fake, _ = fake_rasa

    classifier.parse("老板拖欠工资三个月了")

    assert fake.requests == [
        {
            "path": "/model/parse",
            "query": {"token": [TOKEN]},
            "json": {"text": "老板拖欠工资三个月了"},
        }
    ]


def test_ranking_is_sorted_best_first_and_float32_overshoot_is_clamped(fake_rasa, classifier):
    fake, _ = fake_rasa
    fake.body = rasa_answer("x", [("greet", 1.0000001)])
    fake.body["intent_ranking"] = [
        {"name": "thanks", "confidence": 0.0},
        {"name": "greet", "confidence": 1.0000001},
    ]

    parse = classifier.parse("hi")

    assert parse.confidence == 1.0
    assert [s.name for s in parse.ranking] == ["greet", "thanks"]


def test_missing_ranking_falls_back_to_the_intent_alone(fake_rasa, classifier):
    fake, _ = fake_rasa
    fake.body = {"text": "hi", "intent": {"name": "greet", "confidence": 0.7}}

    assert classifier.parse("hi").ranking == (IntentScore("greet", 0.7),)


def test_timeout_raises_backend_unavailable_promptly(fake_rasa):
    fake, url = fake_rasa
    fake.delay_s = 5.0
    with RasaHttpIntentClassifier(url, TOKEN, timeout_s=0.2) as classifier:
        started = time.monotonic()
        with pytest.raises(NLUBackendUnavailable, match=r"did not answer within 0\.2 s") as err:
            classifier.parse(SECRET_TEXT)
        assert time.monotonic() - started < 2.0
    assert_private(str(err.value))


@pytest.mark.parametrize("status", [500, 503, 404, 409])
def test_http_error_status_raises_backend_unavailable(fake_rasa, classifier, status):
    fake, _ = fake_rasa
    fake.status = status

    with pytest.raises(NLUBackendUnavailable, match=f"HTTP {status}") as err:
        classifier.parse(SECRET_TEXT)
    assert_private(str(err.value))


def test_wrong_token_raises_backend_unavailable(fake_rasa):
    _, url = fake_rasa
    with (
        RasaHttpIntentClassifier(url, "wrong-token", timeout_s=2.0) as classifier,
        pytest.raises(NLUBackendUnavailable, match="HTTP 401") as err,
    ):
        classifier.parse(SECRET_TEXT)
    assert "wrong-token" not in str(err.value)


def test_body_that_is_not_json_raises_backend_unavailable(fake_rasa, classifier):
    fake, _ = fake_rasa
    fake.raw = b'{"intent": {"name": "greet", '  # cut off

    with pytest.raises(NLUBackendUnavailable, match="not JSON") as err:
        classifier.parse(SECRET_TEXT)
    assert_private(str(err.value))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ([1, 2], "not an object"),
        ({"text": SECRET_TEXT}, "no intent object"),
        ({"text": SECRET_TEXT, "intent": {"name": None, "confidence": 0.0}}, "intent None"),
        (
            {"text": SECRET_TEXT, "intent": {"name": "nlu_fallback", "confidence": 0.9}},
            "nlu_fallback",
        ),
        ({"text": SECRET_TEXT, "intent": {"name": "greet", "confidence": 1.5}}, "confidence 1.5"),
        ({"text": SECRET_TEXT, "intent": {"name": "greet", "confidence": "high"}}, "'high'"),
        ({"text": SECRET_TEXT, "intent": {"name": "greet", "confidence": True}}, "True"),
        (
            {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": {"greet": 0.9}},
            "intent_ranking of type dict",
        ),
        (
            {
                "intent": {"name": "greet", "confidence": 0.9},
                "intent_ranking": [{"name": "smalltalk", "confidence": 0.1}],
            },
            "'smalltalk' in intent_ranking",
        ),
    ],
)
def test_answer_that_breaks_the_contract_raises_naming_the_bad_value(
    fake_rasa, classifier, body, match
):
    fake, _ = fake_rasa
    fake.body = body

    with pytest.raises(NLUBackendUnavailable, match=match) as err:
        classifier.parse(SECRET_TEXT)
    assert_private(str(err.value))


def test_connection_refused_raises_backend_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with (
        RasaHttpIntentClassifier(url, TOKEN, timeout_s=1.0) as classifier,
        pytest.raises(NLUBackendUnavailable, match="could not be reached: ConnectError") as err,
    ):
        classifier.parse(SECRET_TEXT)
    assert_private(str(err.value))


@pytest.mark.parametrize(
    ("url", "token", "timeout_s", "match"),
    [
        ("127.0.0.1:5005", TOKEN, 1.0, "url must start with http"),
        ("ftp://127.0.0.1", TOKEN, 1.0, "url must start with http"),
        ("http://127.0.0.1:5005", "", 1.0, "token must not be empty"),
        ("http://127.0.0.1:5005", TOKEN, 0, "got 0"),
        ("http://127.0.0.1:5005", TOKEN, -1.0, "got -1.0"),
        ("http://127.0.0.1:5005", TOKEN, float("nan"), "got nan"),
        ("http://127.0.0.1:5005", TOKEN, "2", "got '2'"),
    ],
)
def test_constructor_rejects_bad_values(url, token, timeout_s, match):
    with pytest.raises(ValueError, match=match):
        RasaHttpIntentClassifier(url, token, timeout_s)


def test_close_twice_is_harmless(fake_rasa):
    _, url = fake_rasa
    classifier = RasaHttpIntentClassifier(url + "/", TOKEN, timeout_s=1.0)
    assert classifier.url == url
    classifier.close()
    classifier.close()


# --- FallbackIntentClassifier ------------------------------------------------------------


def test_fallback_answers_when_rasa_fails_and_counts_and_logs_without_text(
    fake_rasa, classifier, caplog
):
    fake, _ = fake_rasa
    fake.status = 500
    builtin = FixedClassifier("urgent_danger")
    combined = FallbackIntentClassifier(classifier, builtin)

    with caplog.at_level(logging.WARNING, logger="nlu.fallback"):
        first = combined.parse(SECRET_TEXT)
        second = combined.parse(SECRET_TEXT)

    assert first == Parse(
        "urgent_danger", 0.5, (IntentScore("urgent_danger", 0.5),), backend="builtin", fallback=True
    )
    assert second.fallback
    assert combined.fallbacks == 2
    assert builtin.texts == [SECRET_TEXT, SECRET_TEXT]
    warnings = [r for r in caplog.records if r.name == "nlu.fallback"]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "RasaHttpIntentClassifier" in warnings[0].getMessage()
    assert "HTTP 500" in warnings[0].getMessage()
    for record in caplog.records:
        assert_private(record.getMessage())


def test_fallback_on_rasa_timeout(fake_rasa):
    fake, url = fake_rasa
    fake.delay_s = 5.0
    with RasaHttpIntentClassifier(url, TOKEN, timeout_s=0.2) as rasa:
        combined = FallbackIntentClassifier(rasa, FixedClassifier())
        parse = combined.parse(SECRET_TEXT)
    assert (parse.intent, parse.backend, parse.fallback) == ("ask_rights", "builtin", True)
    assert combined.fallbacks == 1


def test_no_fallback_when_rasa_answers(fake_rasa, classifier, caplog):
    builtin = FixedClassifier("greet")
    combined = FallbackIntentClassifier(classifier, builtin)

    with caplog.at_level(logging.WARNING):
        parse = combined.parse("how is overtime paid?")

    assert (parse.intent, parse.backend, parse.fallback) == ("ask_rights", "rasa", False)
    assert combined.fallbacks == 0
    assert builtin.texts == []
    assert caplog.records == []


def test_error_of_the_fallback_itself_propagates():
    combined = FallbackIntentClassifier(BrokenClassifier(), BrokenClassifier())

    with pytest.raises(NLUError, match="not loaded"):
        combined.parse("hello")
    assert combined.fallbacks == 1


def test_fallback_rejects_objects_that_are_not_classifiers():
    with pytest.raises(TypeError, match="fallback must be an IntentClassifier, got str"):
        FallbackIntentClassifier(FixedClassifier(), "builtin")  # type: ignore[arg-type]


def test_fallback_counter_is_exact_under_threads():
    combined = FallbackIntentClassifier(BrokenClassifier(), FixedClassifier())

    def work() -> None:
        for _ in range(200):
            combined.parse("x")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert combined.fallbacks == 800


# --- the real Rasa server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_rasa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    if find_python310() is None:
        pytest.skip(
            "no working python3.10 on this machine (tried PATH, pyenv, /usr/bin): the real "
            "Rasa 3.6 server needs it; CI has it, so there this test runs"
        )
    # Same layout as mk/rasa.mk; RASA_DATA_DIR overrides the training data there too.
    data_dir = os.environ.get("RASA_DATA_DIR")
    layout = RasaLayout.for_repo(REPO, data_dir=REPO / data_dir if data_dir else None)
    if not layout.rasa.is_file():
        pytest.fail(f"{layout.rasa} is missing: run `make rasa` first")
    model = layout.model_path()
    if not model.is_file():
        pytest.fail(
            f"no trained Rasa model for the current training data at {model}: run `make rasa` "
            "first (it trains only when the data, config or pins changed)"
        )
    log = tmp_path_factory.mktemp("rasa") / "server.log"
    with RasaServer(layout.rasa, model, token=secrets.token_urlsafe(16), log_path=log) as server:
        yield server


@pytest.fixture
def real_classifier(real_rasa: RasaServer) -> Iterator[RasaHttpIntentClassifier]:
    # Generous: a 2-core CI machine may be busy with other tests.
    with RasaHttpIntentClassifier(real_rasa.url, real_rasa.token, timeout_s=30.0) as classifier:
        yield classifier


CLEAR_MESSAGES = [
    ("你好", "greet"),
    ("谢谢你", "thanks"),
    ("工厂着火了，快救命", "urgent_danger"),
    ("删除我的数据", "delete_my_data"),
    ("hello", "greet"),
    ("thank you so much", "thanks"),
    ("the factory is on fire, help", "urgent_danger"),
    ("delete my data", "delete_my_data"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("text", "intent"), CLEAR_MESSAGES)
def test_real_rasa_classifies_clear_messages(real_classifier, text, intent):
    parse = real_classifier.parse(text)

    assert (parse.intent, parse.backend, parse.fallback) == (intent, "rasa", False)
    assert parse.confidence >= 0.5
    assert parse.ranking[0] == IntentScore(parse.intent, parse.confidence)
    assert all(score.name in INTENTS for score in parse.ranking)


# "banana" is the known case (Rasa alone once said report_abuse 0.63); the others
# are not in the training data.
@pytest.mark.integration
@pytest.mark.parametrize("text", ["banana", "香蕉", "mango", "芒果", "my cat is cute", "xyzzy"])
def test_real_rasa_does_not_turn_small_talk_into_a_report(real_classifier, text):
    parse = real_classifier.parse(text)

    alarming = parse.intent in {"report_problem", "urgent_danger"} and parse.confidence >= 0.5
    assert not alarming, f"{text!r} -> {parse.intent} {parse.confidence:.2f}"


@pytest.mark.integration
def test_real_rasa_rejects_a_wrong_token_and_the_fallback_takes_over(real_rasa):
    with RasaHttpIntentClassifier(real_rasa.url, "not-the-token", timeout_s=30.0) as rasa:
        combined = FallbackIntentClassifier(rasa, FixedClassifier())
        parse = combined.parse("hello")
    assert parse.fallback
    assert combined.fallbacks == 1
    assert real_rasa.rss_bytes() > 0
