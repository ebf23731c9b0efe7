"""``workright kb build | check | stats``."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from knowledge_base.cards import load_cards
from knowledge_base.corpus import KnowledgeBase
from knowledge_base.errors import SourceParseError
from knowledge_base.index import HybridIndex, index_key
from knowledge_base.statutes import load_statutes

if TYPE_CHECKING:
    from bot.config import Settings


def run_kb(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch a ``kb`` sub-command; returns the exit code."""
    if args.kb_command == "check":
        return check()
    if args.kb_command == "stats":
        result = stats()
        if args.json:
            print(json.dumps(result, ensure_ascii=False, indent=2))  # noqa: T201
        else:
            for key, value in result.items():
                print(f"{key}: {value}")  # noqa: T201
        return 0
    return build(settings, force=args.force)


def check() -> int:
    """Report every problem in the sources at once; exit 1 if any."""
    from knowledge_base.cards import check_cards

    problems: list[str] = []
    try:
        statutes = load_statutes()
    except SourceParseError as exc:
        problems.append(str(exc))
        statutes = {}
    passages = {p.key: p for s in statutes.values() for p in s.passages}
    cards, load_problems = load_cards()
    problems += load_problems
    problems += check_cards(cards, passages)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)  # noqa: T201
        print(f"{len(problems)} problem(s)", file=sys.stderr)  # noqa: T201
        return 1
    print(f"ok: {len(cards)} cards, {len(passages)} statute passages")  # noqa: T201
    return 0


def stats() -> dict[str, Any]:
    """Counts by jurisdiction, instrument (of a card's first citation), topic and language."""
    kb = KnowledgeBase.load()
    by_jurisdiction: Counter[str] = Counter()
    by_instrument: Counter[str] = Counter()
    by_topic: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    for card in kb.cards.values():
        by_jurisdiction[card.jurisdiction] += 1
        by_instrument[card.key.split(":")[0]] += 1
        by_topic[card.topic] += 1
        for lang, text in card.text.items():
            if text.strip():
                by_language[lang] += 1
    return {
        "cards": len(kb.cards),
        "passages": len(kb.passages),
        "by_jurisdiction": dict(sorted(by_jurisdiction.items())),
        "by_instrument": dict(sorted(by_instrument.items())),
        "by_topic": dict(sorted(by_topic.items())),
        "by_language": dict(sorted(by_language.items())),
    }


def build(settings: Settings, *, force: bool = False) -> int:
    """Build the index for the current sources unless an identical one exists."""
    from tqdm import tqdm

    from knowledge_base.encoders import make_encoder, make_second_encoder

    kb = KnowledgeBase.load()
    encoder = make_encoder(settings.kb.encoder, settings.kb.encoder_model)
    second = make_second_encoder(settings.kb.second_encoder)
    index_dir = settings.resolve(settings.kb.index_dir)
    target = index_dir / index_key(kb, encoder, second)
    if (target / "manifest.json").exists() and not force:
        print(f"index up to date: {target}")  # noqa: T201
        return 0
    with tqdm(total=len(kb.documents), desc="embedding", unit="doc") as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        path = HybridIndex.build(kb, encoder, index_dir, progress=progress, second=second)
    print(f"index built: {path} ({len(kb.documents)} documents)")  # noqa: T201
    return 0
