import pytest

from knowledge_base.overviews import OverviewTable

WAGES, CONTRACT = "cn-lcl-77-unpaid-wages-what-to-do", "cn-lcl-82-no-written-contract-double-pay"


@pytest.fixture
def table():
    return OverviewTable({
        "zh": [("不发工资", WAGES), ("拖欠工资", WAGES), ("没签合同", CONTRACT),
               ("没有签劳动合同", CONTRACT)],
        "en": [("not paid", WAGES), ("doesn't pay me", WAGES), ("no contract", CONTRACT)],
    })


@pytest.mark.parametrize("question", [
    "老板不发工资怎么办", "拖欠工资去哪里投诉", "拖欠工资", "厂里一直不发工资，咋办？",
    "老板不发工资！！",
])
def test_a_question_that_only_names_the_problem_gets_its_card(table, question):
    assert table.match(question, "zh") == WAGES


@pytest.mark.parametrize("question", [
    "老板打白条不发工资", "老板拖欠工资三个月了", "不发工资可以不去上班吗", "ＰＳ不发工资",
    "没签合同被辞退有补偿吗",
])
def test_a_question_that_says_more_is_left_to_ranking(table, question):
    assert table.match(question, "zh") is None


def test_the_longest_phrase_is_cut_out_first(table):
    # 没有签劳动合同 holds no shorter phrase of the table; it must still match whole.
    assert table.match("公司没有签劳动合同怎么办", "zh") == CONTRACT


@pytest.mark.parametrize(("question", "expected"), [
    ("My boss doesn’t pay me, where do I go?", WAGES),  # a phone's curly apostrophe
    ("I was not paid", WAGES),
    ("the factory has no contract", CONTRACT),
    ("I was not paid for overtime", None),
    ("no contractor came", None),  # whole words only
])
def test_english_phrases_match_whole_words(table, question, expected):
    assert table.match(question, "en") == expected


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "怎么办", "不发工资" * 500])
def test_empty_bare_and_huge_questions_do_not_match(table, question):
    assert table.match(question, "zh") is None


def test_a_language_without_phrases_never_matches(table):
    assert table.match("không trả lương", "vi") is None
    assert table.match("不发工资", "vi") is None


def test_a_phrase_named_twice_keeps_its_first_card():
    table = OverviewTable({"zh": [("不发工资", WAGES), ("不发工资", CONTRACT), (" ", CONTRACT)]})
    assert len(table) == 1 and table.match("不发工资", "zh") == WAGES


def test_the_shipped_cards_make_a_table(kb):
    table = OverviewTable.from_cards(kb.cards.values())
    assert len(table) > 0
    assert table.match("老板不发工资怎么办", "zh") == WAGES
    assert table.match("the factory has no contract with me", "en") == CONTRACT
    # Not the first steps after an accident: a definition, and a beating.
    assert table.match("什么是工伤", "zh") is None
    assert table.match("my boss hurt me", "en") is None
