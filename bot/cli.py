"""The ``workright`` command: serve, chat, ask, kb, eval, bench, nlu, maintenance."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from knowledge_base.errors import IndexMissingError, KnowledgeBaseError

logger = logging.getLogger("workright")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The httpx logger would print request URLs, and a Telegram bot token sits in them.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for noisy in ("jieba", "alembic", "faiss", "faiss.loader", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="workright", description=__doc__)
    parser.add_argument("--config", type=Path, help="config file (default: config.yml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="web chat, API and webhooks on one ASGI server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--build-index", action="store_true", help="build the index if missing")

    sub.add_parser("chat", help="chat in the terminal")

    ask = sub.add_parser("ask", help="ask one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the replies as JSON")
    ask.add_argument("--session", default="cli")

    kb = sub.add_parser("kb", help="knowledge base: build, check, stats")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    build = kb_sub.add_parser("build", help="build the search index (skipped when up to date)")
    build.add_argument("--force", action="store_true")
    kb_sub.add_parser("check", help="check every card and source; list all problems")
    stats = kb_sub.add_parser("stats", help="counts of cards and passages")
    stats.add_argument("--json", action="store_true")

    ev = sub.add_parser("eval", help="retrieval and triage quality on a question file")
    ev.add_argument("--questions", type=Path, required=True)
    ev.add_argument("--details", type=Path, help="write per-question results (JSON lines)")

    bench = sub.add_parser("bench", help="speed and memory")
    bench.add_argument("--questions", type=Path)
    bench.add_argument("--clients", type=int, default=8)
    bench.add_argument("--requests", type=int, default=400, help="HTTP requests in all")

    nlu = sub.add_parser("nlu", help="intent classifiers")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", required=True)
    nlu_eval = nlu_sub.add_parser("eval", help="builtin vs Rasa, side by side")
    nlu_eval.add_argument("--questions", type=Path)
    nlu_eval.add_argument("--no-rasa", action="store_true")
    nlu_sub.add_parser("train", help="train the builtin classifier (cached by data hash)")

    sub.add_parser("maintenance", help="purge stale conversations and old closed cases")

    for extra in _extensions():
        extra(sub)
    return parser


def _extensions() -> list[Any]:
    """Sub-commands contributed by other modules (moderator accounts ...)."""
    hooks = []
    try:
        from grievance.cli import add_commands
    except ImportError:
        pass
    else:
        hooks.append(add_commands)
    return hooks


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workright`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        settings = load_settings(args.config)
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"workright: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except (IndexMissingError, KnowledgeBaseError) as exc:
        print(f"workright: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    command = args.command
    if command == "serve":
        from bot.run import serve

        return serve(settings, host=args.host, port=args.port, build_index=args.build_index)
    if command == "chat":
        from bot.channels.terminal import run_terminal_chat

        return run_terminal_chat(settings)
    if command == "ask":
        return _ask(settings, args.question, args.session, as_json=args.json)
    if command == "kb":
        from knowledge_base.cli import run_kb

        return run_kb(settings, args)
    if command == "eval":
        from bot.evaluation import run_eval

        result = run_eval(settings, args.questions, details=args.details)
        print(json.dumps(result, ensure_ascii=False, indent=2))  # noqa: T201
        return 0
    if command == "bench":
        from bot.bench import run_bench

        result = run_bench(settings, args.questions, clients=args.clients, requests=args.requests)
        print(json.dumps(result, ensure_ascii=False, indent=2))  # noqa: T201
        return 0
    if command == "nlu":
        return _nlu(settings, args)
    if command == "maintenance":
        from bot.maintenance import run_maintenance

        print(json.dumps(run_maintenance(settings), indent=2))  # noqa: T201
        return 0
    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(settings, args))
    raise SystemExit(f"unknown command {command!r}")


def _ask(settings: Settings, question: str, session: str, *, as_json: bool) -> int:
    from bot.app import build_app
    from bot.messages import Message

    app = build_app(settings)
    try:
        replies = app.assistant.handle(Message(channel="cli", user=session, text=question))
    finally:
        app.close()
    if as_json:
        print(json.dumps({"replies": [r.to_dict() for r in replies]}, ensure_ascii=False,  # noqa: T201
                         indent=2))
    else:
        for reply in replies:
            print(reply.text)  # noqa: T201
            for button in reply.buttons:
                print(f"  [{button.label}] -> {button.value}")  # noqa: T201
            print()  # noqa: T201
    return 0


def _nlu(settings: Settings, args: argparse.Namespace) -> int:
    if args.nlu_command == "train":
        from bot.app import build_classifier, build_encoder

        build_classifier(settings, build_encoder(settings), train=True)
        return 0
    from nlu.evaluate import run as evaluate_nlu

    result = evaluate_nlu(settings, questions=args.questions, rasa=not args.no_rasa)
    print(json.dumps(result, ensure_ascii=False, indent=2))  # noqa: T201
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
