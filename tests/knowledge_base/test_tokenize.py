import pytest

from knowledge_base.tokenize import normalize, tokenize


@pytest.mark.parametrize(("text", "expected"), [
    ("ＡＢＣ公司　拖欠工资", "abc公司 拖欠工资"),  # full width and an ideographic space
    ("Doesn\u2019t PAY", "doesn't pay"),
    ("it\u02bcs `late`", "it's 'late'"),
    ("STRASSE Straße", "strasse strasse"),
    ("  \t\n ", ""),
])
def test_normalize_folds_width_case_apostrophes_and_spaces(text, expected):
    assert normalize(text) == expected


def test_a_curly_apostrophe_tokenizes_like_a_straight_one():
    assert tokenize("boss doesn\u2019t pay") == tokenize("boss doesn't pay")


def test_chinese_is_cut_into_words_without_stopwords():
    tokens = tokenize("公司拖欠我的工资")
    assert "工资" in tokens and "的" not in tokens and "公司" not in tokens
