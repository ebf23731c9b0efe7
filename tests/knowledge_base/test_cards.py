from pathlib import Path

import yaml

from knowledge_base.cards import CARDS_DIR, check_cards, load_cards
from knowledge_base.cli import check, stats
from knowledge_base.statutes import load_statutes, passages_by_key

GOOD = {
    "id": "cn-lcl-82-test",
    "cites": ["CN-LCL:82"],
    "jurisdiction": "CN",
    "topic": "contract",
    "source_url": "https://flk.npc.gov.cn/",
    "title": {"zh": "没签合同", "en": "No contract"},
    "text": {"zh": "双倍工资。", "en": "Double pay."},
    "actions": {"zh": ["拨打12333"], "en": ["Call 12333"]},
}


def _check(tmp_path: Path, cards: list[dict]) -> list[str]:
    (tmp_path / "test.yml").write_text(yaml.safe_dump(cards, allow_unicode=True), "utf-8")
    loaded, problems = load_cards(tmp_path)
    return problems + check_cards(loaded, passages_by_key(load_statutes()))


def test_the_shipped_cards_pass_kb_check():
    assert check() == 0


def test_a_good_card_has_no_problem(tmp_path):
    assert _check(tmp_path, [GOOD]) == []


def test_a_card_citing_an_article_the_statute_layer_lacks_fails(tmp_path):
    problems = _check(tmp_path, [{**GOOD, "cites": ["CN-LCL:999"]}])
    assert any("CN-LCL:999" in p and "statute layer lacks" in p for p in problems)


def test_a_card_may_cite_an_annex_the_statute_layer_has(tmp_path):
    assert _check(tmp_path, [{**GOOD, "cites": ["CN-LCL:82", "CN-FEMALE:annex"]}]) == []
    problems = _check(tmp_path, [{**GOOD, "cites": ["CN-LCL:annex"]}])
    assert any("CN-LCL:annex" in p and "statute layer lacks" in p for p in problems)


def test_the_banned_work_cards_cite_the_annex_not_article_16():
    cards = {s.card.id: s.card for s in load_cards()[0]}
    for card_id in ("cn-female-4-banned-work-pregnancy-nursing", "cn-ll-59-work-banned-for-women"):
        assert "CN-FEMALE:annex" in cards[card_id].cites
    assert not any("CN-FEMALE:16" in card.cites for card in cards.values())


def test_every_problem_is_reported_at_once(tmp_path):
    bad = {**GOOD, "id": "second", "cites": ["XX-NOPE:1"]}
    long_text = {**GOOD, "id": "third", "text": {"zh": "长" * 601, "en": "x"}}
    missing_lang = {**GOOD, "id": "fourth", "text": {"zh": "只有中文"}}
    problems = _check(tmp_path, [GOOD, GOOD, bad, long_text, missing_lang])
    joined = "\n".join(problems)
    assert "duplicate id" in joined
    assert "unknown instrument 'XX-NOPE'" in joined
    assert "text.zh is 601 characters" in joined
    assert "text missing in en" in joined


def test_malformed_yaml_names_the_file(tmp_path):
    (tmp_path / "broken.yml").write_text("- id: [unclosed\n", "utf-8")
    _, problems = load_cards(tmp_path)
    assert problems and problems[0].startswith("broken.yml: not valid YAML")


def test_stats_counts_cards_by_first_citation():
    result = stats()
    assert result["cards"] == sum(result["by_jurisdiction"].values())
    assert result["cards"] == sum(result["by_instrument"].values())
    assert result["passages"] > 1000
    assert set(result["by_language"]) >= {"zh", "en"}
    assert CARDS_DIR.is_dir()


def test_example_questions_are_checked(tmp_path):
    asked = {**GOOD, "questions": {"zh": ["老板不签合同咋办"], "en": ["No contract?"]}}
    assert _check(tmp_path, [asked]) == []
    twice = {**GOOD, "id": "other", "questions": {"zh": ["老板不签合同咋办"]}}
    too_many = {**GOOD, "id": "many", "questions": {"zh": [f"问题{i}" for i in range(9)]}}
    odd = {**GOOD, "id": "odd", "questions": {"fr": ["Pas de contrat ?"], "en": ["", "x" * 201]}}
    joined = "\n".join(_check(tmp_path, [asked, twice, too_many, odd]))
    assert "question '老板不签合同咋办' is also asked in cn-lcl-82-test" in joined
    assert "9 questions in zh (max 8)" in joined
    assert "questions in unknown language 'fr'" in joined
    assert "an empty question in en" in joined
    assert "a question in en is 201 characters (max 200)" in joined


def test_overview_phrases_are_checked(tmp_path):
    overview = {**GOOD, "overview": {"zh": ["没签合同"], "en": ["no contract"]}}
    assert _check(tmp_path, [overview]) == []
    twice = {**GOOD, "id": "other", "overview": {"zh": ["没签合同"], "en": ["No  Contract"]}}
    odd = {**GOOD, "id": "odd", "overview": {"fr": ["pas de contrat"], "en": [" "]}}
    joined = "\n".join(_check(tmp_path, [overview, twice, odd]))
    assert "overview phrase '没签合同' also names cn-lcl-82-test" in joined
    assert "overview phrase 'No  Contract' also names cn-lcl-82-test" in joined
    assert "overview phrases in unknown language 'fr'" in joined
    assert "an empty overview phrase in en" in joined
