"""``workright eval``: retrieval, topic and sensitivity quality on a question file.

Reads one JSON object a line (``id, lang, question, topic, sensitive, expected_source``,
optional ``jurisdiction``) and returns the metrics DESIGN specifies, overall and by language.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bot.app import App, build_app
from bot.config import Settings
from bot.messages import Message
from knowledge_base.retrieval import recall_hit

MRR_DEPTH = 10


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Read a question file, naming the line of any malformed entry.

    Raises:
        ValueError: for a line that is not a JSON object with ``question`` and ``lang``.
    """
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or "question" not in row or "lang" not in row:
            raise ValueError(f"{path}:{number}: expected an object with 'question' and 'lang'")
        rows.append(row)
    return rows


def evaluate(app: App, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every question through the assistant; return metrics and per-question details."""
    assistant = app.assistant
    details: list[dict[str, Any]] = []
    for row in rows:
        question = str(row["question"])
        lang = str(row["lang"])
        jurisdiction = row.get("jurisdiction")
        user = f"eval-{row.get('id', len(details))}-{time.monotonic_ns()}"
        # The assistant greets a new worker first: say hello, then time the question.
        assistant.handle(Message(channel="eval", user=user, text="/start"))
        if jurisdiction:
            assistant.handle(Message(channel="eval", user=user, text=f"country:{jurisdiction}"))
        start = time.perf_counter()
        assistant.handle(Message(channel="eval", user=user, text=question))
        latency = (time.perf_counter() - start) * 1000
        hits = assistant.retriever.search(question, lang, jurisdiction, MRR_DEPTH)
        expected = list(row.get("expected_source") or [])
        rank = recall_hit(hits, expected) if expected else None
        triage = assistant.triage(question)
        # Sensitive triage is exactly when the first reply offers the report path (and,
        # when urgent, emergency help): see Assistant._free_text.
        flagged = triage.sensitive
        topic = assistant.answers.topic_of(hits[0]) if hits else "other"
        details.append({
            "id": row.get("id"), "lang": lang, "expected": expected, "rank": rank,
            "top": [h.ref for h in hits[:3]], "topic": topic, "topic_expected": row.get("topic"),
            "sensitive": bool(row.get("sensitive")), "flagged": flagged,
            "intent": triage.intent, "latency_ms": round(latency, 2),
        })
    result = _metrics(details)
    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for detail in details:
        by_lang[str(detail["lang"])].append(detail)
    result["by_lang"] = {lang: _metrics(items) for lang, items in sorted(by_lang.items())}
    return result, details


def _metrics(details: list[dict[str, Any]]) -> dict[str, Any]:
    retrieval = [d for d in details if d["expected"]]
    ranks = [d["rank"] for d in retrieval]
    sensitive = [d for d in details if d["sensitive"]]
    flagged = [d for d in details if d["flagged"]]
    latencies = np.array([d["latency_ms"] for d in details] or [0.0])

    def ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    return {
        "n": len(details),
        "n_retrieval": len(retrieval),
        "topic_accuracy": ratio(sum(d["topic"] == d["topic_expected"] for d in details),
                                len(details)),
        "recall@1": ratio(sum(r == 1 for r in ranks), len(ranks)),
        "recall@3": ratio(sum(r is not None and r <= 3 for r in ranks), len(ranks)),
        "mrr": round(sum(1.0 / r for r in ranks if r) / len(ranks), 4) if ranks else None,
        "sensitive_recall": ratio(sum(d["flagged"] for d in sensitive), len(sensitive)),
        "sensitive_precision": ratio(sum(d["sensitive"] for d in flagged), len(flagged)),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2),
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2),
    }


def run_eval(settings: Settings, questions: Path, details: Path | None = None) -> dict[str, Any]:
    """``workright eval``: build the app on a throwaway database and evaluate."""
    rows = load_questions(questions)
    with tempfile.TemporaryDirectory(prefix="workright-eval-") as tmp:
        settings = settings.model_copy(deep=True)
        settings.database.url = f"sqlite:///{tmp}/eval.db"
        settings.secrets.database_url = None
        app = build_app(settings)
        try:
            result, per_question = evaluate(app, rows)
        finally:
            app.close()
    if details is not None:
        details.write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in per_question),
            encoding="utf-8",
        )
    return result
