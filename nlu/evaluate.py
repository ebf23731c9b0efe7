"""``workright nlu eval``: the builtin and Rasa backends side by side, in one JSON object.

For each backend: on a held-out split of the training data (trained on the rest), accuracy,
macro-F1 and sensitive recall/precision; on the development questions' ``sensitive`` labels,
sensitive recall/precision; p50/p95 latency per message, alone and as added to a message the
retriever embeds anyway (``in_assistant``: the builtin backend shares that embedding); and
memory (builtin: this process's RSS growth from loading the encoder and the model; Rasa: the
server process tree's RSS, read from ``/proc``).

"Sensitive" is decided the way the assistant decides it (``bot.assistant.Triage``): the intent
is ``report_problem`` or ``urgent_danger``, or the safety lexicon matches. Both are reported,
and the classifier alone too.

Usage::

    python -m nlu.evaluate                 # builtin and (if `make rasa` was run) Rasa
    python -m nlu.evaluate --no-rasa --questions ../shared/eval/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge_base.encoders import Encoder, make_encoder
from nlu.builtin import SENSITIVE_INTENTS, BuiltinIntentClassifier, EmbeddingCache, prepare_text
from nlu.errors import NLUError
from nlu.safety import SafetyNet
from nlu.training import DATA_DIR, TrainingData, load_training_data, write_rasa_nlu
from nlu.types import IntentClassifier, Parse

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = DATA_DIR
DEFAULT_MODEL_DIR = REPO / "var" / "nlu"
DEFAULT_QUESTIONS = REPO.parent / "shared" / "eval" / "dev.jsonl"

#: Sensitive costs reported as operating points of the builtin head on the held-out split.
OPERATING_POINTS: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DevQuestion:
    """One development question: only what the NLU evaluation needs."""

    text: str
    lang: str
    sensitive: bool


def load_questions(path: Path) -> list[DevQuestion]:
    """Read a questions file (``workright eval`` format, one JSON object a line).

    Raises:
        ValueError: naming the file and line, when a line is not an object with a string
            ``question`` and a boolean ``sensitive``.
    """
    questions: list[DevQuestion] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row: Any = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
            if not (
                isinstance(row, dict)
                and isinstance(row.get("question"), str)
                and isinstance(row.get("sensitive"), bool)
            ):
                raise ValueError(f"{path}:{number}: needs a string 'question', a bool 'sensitive'")
            questions.append(
                DevQuestion(row["question"], str(row.get("lang", "")), row["sensitive"])
            )
    return questions


# -- metrics ----------------------------------------------------------------------------------
def sensitive_metrics(gold: Sequence[bool], flagged: Sequence[bool]) -> dict[str, Any]:
    """Recall and precision of flagging sensitive messages (None when undefined)."""
    y, p = np.asarray(gold, dtype=bool), np.asarray(flagged, dtype=bool)
    hits = int((y & p).sum())
    return {
        "n_sensitive": int(y.sum()),
        "n_flagged": int(p.sum()),
        "recall": _ratio(hits, int(y.sum())),
        "precision": _ratio(hits, int(p.sum())),
    }


def intent_metrics(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 over the gold intents."""
    from sklearn.metrics import f1_score

    labels = sorted(set(gold))
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {
        "accuracy": _ratio(correct, len(gold)),
        "macro_f1": round(
            float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4
        ),
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _latency(latencies_s: Sequence[float]) -> dict[str, float | None]:
    if not latencies_s:
        return {"latency_ms_p50": None, "latency_ms_p95": None}
    ms = np.asarray(latencies_s) * 1000.0
    return {
        "latency_ms_p50": round(float(np.percentile(ms, 50)), 1),
        "latency_ms_p95": round(float(np.percentile(ms, 95)), 1),
    }


@dataclass(frozen=True, slots=True)
class _Run:
    parses: list[Parse | None]
    latencies_s: list[float]
    errors: int


def _parse_all(classifier: IntentClassifier, texts: Sequence[str]) -> _Run:
    parses: list[Parse | None] = []
    latencies: list[float] = []
    errors = 0
    for text in texts:
        started = time.perf_counter()
        try:
            parses.append(classifier.parse(text))
        except NLUError as exc:
            logger.warning("%s failed on one message: %s", type(classifier).__name__, exc)
            parses.append(None)
            errors += 1
        latencies.append(time.perf_counter() - started)
    return _Run(parses, latencies, errors)


def added_latency(
    classifier: IntentClassifier, texts: Sequence[str], embed: Callable[[str], object]
) -> dict[str, Any]:
    """What classifying adds to a message the retriever embeds anyway: ``embed`` (the
    retriever's encoding of the message) runs first, untimed, then the classifier is timed.

    The builtin classifier reads the same embedding from the encoder's query cache, so what
    it adds is its head; a classifier that shares nothing (Rasa) adds its whole parse.
    """
    latencies: list[float] = []
    for text in texts:
        embed(text)
        started = time.perf_counter()
        try:
            classifier.parse(text)
        except NLUError:
            continue
        latencies.append(time.perf_counter() - started)
    return {
        **_latency(latencies),
        "note": "added to a message the retriever embeds anyway (rights questions and reports)",
    }


def _flags(run: _Run, texts: Sequence[str], safety: SafetyNet | None) -> dict[str, list[bool]]:
    model = [p is not None and p.intent in SENSITIVE_INTENTS for p in run.parses]
    lexicon = [safety.check(t).sensitive if safety else False for t in texts]
    return {"model": model, "triage": [m or x for m, x in zip(model, lexicon, strict=True)]}


def score_heldout(
    classifier: IntentClassifier, heldout: TrainingData, safety: SafetyNet | None
) -> dict[str, Any]:
    """Intent and sensitivity metrics of a classifier on held-out examples."""
    run = _parse_all(classifier, heldout.texts)
    predicted = [p.intent if p is not None else "<error>" for p in run.parses]
    gold_sensitive = [i in SENSITIVE_INTENTS for i in heldout.intents]
    flags = _flags(run, heldout.texts, safety)
    by_lang: dict[str, dict[str, Any]] = {}
    for lang in sorted({e.lang for e in heldout.examples}):
        rows = [i for i, e in enumerate(heldout.examples) if e.lang == lang]
        by_lang[lang] = {
            "n": len(rows),
            **intent_metrics([heldout.intents[i] for i in rows], [predicted[i] for i in rows]),
        }
    return {
        "n": len(heldout),
        **intent_metrics(heldout.intents, predicted),
        **_prefixed("sensitive_", sensitive_metrics(gold_sensitive, flags["triage"])),
        "model_only": sensitive_metrics(gold_sensitive, flags["model"]),
        **_latency(run.latencies_s),
        "errors": run.errors,
        "by_lang": by_lang,
    }


def score_questions(
    classifier: IntentClassifier, questions: Sequence[DevQuestion], safety: SafetyNet | None
) -> dict[str, Any]:
    """Sensitivity metrics of a classifier (with the lexicon, as triage does) on questions."""
    texts = [q.text for q in questions]
    run = _parse_all(classifier, texts)
    gold = [q.sensitive for q in questions]
    flags = _flags(run, texts, safety)
    by_lang = {
        lang: sensitive_metrics(
            [q.sensitive for q in questions if q.lang == lang],
            [f for f, q in zip(flags["triage"], questions, strict=True) if q.lang == lang],
        )
        for lang in sorted({q.lang for q in questions})
    }
    return {
        "n": len(questions),
        **_prefixed("sensitive_", sensitive_metrics(gold, flags["triage"])),
        "model_only": sensitive_metrics(gold, flags["model"]),
        "lexicon_only": sensitive_metrics(
            gold, [safety.check(t).sensitive if safety else False for t in texts]
        ),
        **_latency(run.latencies_s),
        "errors": run.errors,
        "by_lang": by_lang,
    }


def _prefixed(prefix: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{key}": value for key, value in metrics.items()}


def operating_points(
    classifier: BuiltinIntentClassifier,
    heldout: TrainingData,
    safety: SafetyNet | None,
    costs: Sequence[float] = OPERATING_POINTS,
) -> list[dict[str, Any]]:
    """Sensitive recall/precision (with the lexicon) of the builtin head at other costs.

    Shows which operating points the held-out data allows; the configured cost is chosen
    a priori (see :class:`nlu.builtin.BuiltinConfig`), not from these numbers.
    """
    raw = classifier.raw_probabilities(heldout.texts)
    sensitive = np.array([c in SENSITIVE_INTENTS for c in classifier.classes])
    lexicon = np.array([safety.check(t).sensitive if safety else False for t in heldout.texts])
    gold = [i in SENSITIVE_INTENTS for i in heldout.intents]
    points = []
    for cost in costs:
        weighted = raw * np.where(sensitive, cost, 1.0)
        flagged = sensitive[weighted.argmax(axis=1)] | lexicon
        metrics = sensitive_metrics(gold, flagged.tolist())
        points.append({"sensitive_cost": cost, **_prefixed("sensitive_", metrics)})
    return points


# -- memory -----------------------------------------------------------------------------------
def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (this one by default), from ``/proc``.

    Raises:
        ProcessLookupError: when the process does not exist (or ``/proc`` is absent).
    """
    pid = os.getpid() if pid is None else pid
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except FileNotFoundError:
        raise ProcessLookupError(f"no process with pid {pid} in /proc") from None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(f"process {pid} has no VmRSS")


def tree_rss_bytes(pid: int) -> int:
    """RSS of a process and all its descendants (Rasa may fork workers)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            total += rss_bytes(current)
        except ProcessLookupError:
            continue
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(c) for c in task.read_text(encoding="ascii").split())
            except OSError:
                continue
    return total


# -- backends ---------------------------------------------------------------------------------
def evaluate_builtin(
    encoder_factory: Callable[[], Encoder],
    data: TrainingData,
    data_dir: Path,
    model_dir: Path,
    questions: Sequence[DevQuestion] | None,
    safety: SafetyNet | None,
    *,
    test_fraction: float,
    seed: int,
) -> dict[str, Any]:
    """The builtin backend: held-out (trained on the rest) and the production model on dev.

    ``encoder_factory`` is called here, after a first RSS reading, so that the memory figure
    is what serving the builtin backend costs: the encoder plus the model.
    """
    before = rss_bytes()
    encoder = encoder_factory()
    started = time.monotonic()
    production = BuiltinIntentClassifier.load_or_train(encoder, data_dir, model_dir)
    load_s = time.monotonic() - started
    production.parse("warm-up")
    after = rss_bytes()

    train, heldout = data.split(test_fraction=test_fraction, seed=seed)
    cache = EmbeddingCache(model_dir, encoder)
    cache.embed([prepare_text(t, production.config.max_chars) for t in train.texts])
    started = time.monotonic()
    split_model = BuiltinIntentClassifier.train(encoder, train, production.config, cache=cache)
    train_s = time.monotonic() - started

    result: dict[str, Any] = {
        "available": True,
        "model": production.key,
        "config": asdict(production.config),
        "load_or_train_s": round(load_s, 2),
        "train_s": round(train_s, 2),
        "train_s_note": "held-out model, training embeddings from the cache",
        "heldout": score_heldout(split_model, heldout, safety),
        "heldout_operating_points": operating_points(split_model, heldout, safety),
    }
    result["dev"] = (
        score_questions(production, questions, safety) if questions is not None else None
    )
    texts = heldout.texts + [q.text for q in questions or []]
    result["in_assistant"] = added_latency(
        production, texts, lambda text: encoder.encode_queries([text])
    )
    result["rss_mb"] = round((after - before) / _MB, 1)
    result["rss_note"] = "growth of this process from loading the encoder and the model"
    result["process_rss_mb"] = round(after / _MB, 1)
    return result


def evaluate_rasa(
    data: TrainingData,
    questions: Sequence[DevQuestion] | None,
    safety: SafetyNet | None,
    *,
    test_fraction: float,
    seed: int,
    data_dir: Path,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """The Rasa backend, on servers this function starts (and stops) from ``.rasa-venv``.

    One model is trained on the training side of the split (cached by content hash, like
    ``make rasa``'s) and scored on the held-out side; the ``make rasa`` model (all the
    data) is scored on the questions and its server's RSS is read from ``/proc``.

    Returns:
        ``{"available": False, "reason": ...}`` when the Rasa backend cannot run here.
    """
    try:
        from nlu.rasa_http import RasaHttpIntentClassifier
        from nlu.rasa_server import RasaLayout, RasaServer, train
    except ImportError as exc:
        return {"available": False, "reason": f"the Rasa backend is not installed ({exc})"}
    layout = RasaLayout.for_repo(REPO, data_dir=data_dir)
    if not layout.rasa.is_file():
        return {"available": False, "reason": f"{layout.rasa} does not exist: run `make rasa`"}
    result: dict[str, Any] = {"available": True}
    token = secrets.token_urlsafe(16)
    split_train, heldout = data.split(test_fraction=test_fraction, seed=seed)
    try:
        with _split_layout(layout, split_train) as split_layout:
            started = time.monotonic()
            cached = split_layout.model_path().is_file()
            model = train(split_layout)
            result["train_s"] = None if cached else round(time.monotonic() - started, 1)
            result["train_note"] = "cached model" if cached else "held-out model, rasa train nlu"
            with (
                RasaServer(layout.rasa, model, token=token) as server,
                RasaHttpIntentClassifier(server.url, token, timeout_s) as classifier,
            ):
                result["heldout"] = score_heldout(classifier, heldout, safety)
                texts = heldout.texts + [q.text for q in questions or []]
                result["in_assistant"] = added_latency(classifier, texts, lambda _text: None)
        if questions is not None:
            model = train(layout)
            with (
                RasaServer(layout.rasa, model, token=token) as server,
                RasaHttpIntentClassifier(server.url, token, timeout_s) as classifier,
            ):
                classifier.parse("warm-up")
                result["dev"] = score_questions(classifier, questions, safety)
                result["rss_mb"] = round(tree_rss_bytes(server.pid) / _MB, 1)
                result["rss_note"] = "the rasa server process tree, from /proc"
        else:
            result["dev"] = None
    except (NLUError, RuntimeError, FileNotFoundError, OSError) as exc:
        return {**result, "available": False, "reason": f"{type(exc).__name__}: {exc}"}
    return result


@contextmanager
def _split_layout(layout: Any, examples: TrainingData) -> Iterator[Any]:
    """A layout whose data folder holds only ``examples`` (one Rasa file, removed after)."""
    layout.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".split-", dir=layout.models_dir) as tmp:
        folder = Path(tmp)
        write_rasa_nlu(examples.examples, folder / "train.yml")
        yield type(layout)(
            venv=layout.venv,
            config=layout.config,
            requirements=layout.requirements,
            data_dir=folder,
            models_dir=layout.models_dir,
        )


def evaluate_backends(
    encoder_factory: Callable[[], Encoder],
    *,
    data_dir: Path = DEFAULT_DATA_DIR,
    model_dir: Path = DEFAULT_MODEL_DIR,
    questions_path: Path | None = DEFAULT_QUESTIONS,
    rasa: bool = True,
    test_fraction: float = 0.2,
    seed: int = 13,
) -> dict[str, Any]:
    """Evaluate every backend; the result is ready for ``json.dumps``.

    Args:
        encoder_factory: builds the sentence encoder (called once, after an RSS reading).
        data_dir: the Rasa-format training files.
        model_dir: the builtin models and embedding cache.
        questions_path: the development questions; None or a missing file skips them.
        rasa: evaluate the Rasa backend too (it needs ``make rasa``).
        test_fraction: share of each (intent, language) stratum held out.
        seed: which examples are held out.

    Returns:
        ``{"data": ..., "questions": ..., "backends": {"builtin": ..., "rasa": ...}}``.

    Raises:
        nlu.training.TrainingDataError: for a malformed training file.
        ValueError: for a malformed questions file.
    """
    data = load_training_data(data_dir)
    train, heldout = data.split(test_fraction=test_fraction, seed=seed)
    questions: list[DevQuestion] | None = None
    questions_info: dict[str, Any]
    if questions_path is not None and questions_path.is_file():
        questions = load_questions(questions_path)
        questions_info = {
            "path": str(questions_path),
            "n": len(questions),
            "n_sensitive": sum(q.sensitive for q in questions),
        }
    else:
        questions_info = {"path": str(questions_path), "available": False}
    safety = SafetyNet.load()
    report: dict[str, Any] = {
        "data": {
            "digest": data.digest[:16],
            "n_examples": len(data),
            "n_train": len(train),
            "n_heldout": len(heldout),
            "test_fraction": test_fraction,
            "seed": seed,
        },
        "questions": questions_info,
        "sensitive": "intent in report_problem/urgent_danger, or a safety lexicon match",
        "backends": {},
    }
    report["backends"]["builtin"] = evaluate_builtin(
        encoder_factory, data, data_dir, model_dir, questions, safety,
        test_fraction=test_fraction, seed=seed,
    )  # fmt: skip
    report["backends"]["rasa"] = (
        evaluate_rasa(
            data, questions, safety, test_fraction=test_fraction, seed=seed, data_dir=data_dir
        )
        if rasa
        else {"available": False, "reason": "skipped (--no-rasa)"}
    )
    return report


# -- entry points -----------------------------------------------------------------------------
class _NLUSection(Protocol):
    @property
    def model_dir(self) -> Path: ...


class _KBSection(Protocol):
    @property
    def encoder(self) -> str: ...

    @property
    def encoder_model(self) -> str: ...


class EvalSettings(Protocol):
    """What :func:`run` reads from the application settings (``bot.config.Settings``)."""

    @property
    def nlu(self) -> _NLUSection:
        """The ``nlu`` section (``model_dir``)."""
        ...

    @property
    def kb(self) -> _KBSection:
        """The ``kb`` section (``encoder``, ``encoder_model``)."""
        ...

    def resolve(self, path: Path) -> Path:
        """A relative path from the config, resolved against the project root."""
        ...


def run(
    settings: EvalSettings, *, questions: Path | None = None, rasa: bool = True
) -> dict[str, Any]:
    """``workright nlu eval``: evaluate with the configured encoder and model folder.

    Args:
        settings: the application settings.
        questions: the questions file; the development set when None.
        rasa: evaluate the Rasa backend too.

    Returns:
        The report of :func:`evaluate_backends`.
    """
    return evaluate_backends(
        lambda: make_encoder(settings.kb.encoder, settings.kb.encoder_model),
        model_dir=settings.resolve(settings.nlu.model_dir),
        questions_path=questions if questions is not None else DEFAULT_QUESTIONS,
        rasa=rasa,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the evaluation report as JSON.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m nlu.evaluate", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--no-rasa", action="store_true")
    parser.add_argument("--encoder", default="e5", help="e5 or sentence-transformers")
    parser.add_argument("--encoder-model", default="")
    parser.add_argument(
        "--threads", type=int, default=None, help="encoder threads (default: the engine's)"
    )
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    # httpx logs request URLs at INFO, and Rasa's token travels in the URL.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    report = evaluate_backends(
        lambda: make_encoder(args.encoder, args.encoder_model, num_threads=args.threads),
        data_dir=args.data_dir,
        model_dir=args.model_dir,
        questions_path=args.questions,
        rasa=not args.no_rasa,
        test_fraction=args.test_fraction,
        seed=args.seed,
    )
    sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
