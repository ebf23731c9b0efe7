"""Replies for a statute annex (CN-FEMALE:annex): its citation, short form and full text.
Needs the knowledge base only, not the search index."""

from bot.answers import AnswerBuilder, citation
from bot.i18n import Catalogue
from knowledge_base.corpus import KnowledgeBase


def test_the_citation_of_an_annex():
    assert citation("CN-FEMALE:annex", "zh").title == (
        "《女职工劳动保护特别规定》附录 / Female Employees Protection Rules annex"
    )
    assert citation("CN-FEMALE:annex", "en").title == (
        "Female Employees Protection Rules annex / 《女职工劳动保护特别规定》附录"
    )


def test_an_annex_is_shown_and_cited_as_the_annex_not_the_last_article(kb: KnowledgeBase):
    answers = AnswerBuilder(kb, Catalogue.load())
    short = answers.render("CN-FEMALE:annex", "zh")
    assert short.startswith("女职工禁忌从事的劳动范围")
    assert "《女职工劳动保护特别规定》附录" in short and "第十六条" not in short
    law = answers.law("CN-FEMALE:annex", "en")
    assert "三、女职工在孕期禁忌从事的劳动范围" in law.text
    assert [c.key for c in law.citations] == ["CN-FEMALE:annex"]
    assert answers.title("CN-FEMALE:annex", "en") == "Female Employees Protection Rules annex"
    assert "附录" not in answers.law("CN-FEMALE:16", "zh").text
