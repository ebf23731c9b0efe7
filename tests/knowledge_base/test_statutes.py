from pathlib import Path

import pytest

from knowledge_base.errors import SourceParseError
from knowledge_base.instruments import INSTRUMENTS
from knowledge_base.statutes import SOURCES_DIR, load_statutes, parse_source


def test_every_shipped_source_parses_into_consecutive_articles():
    statutes = load_statutes()
    assert set(statutes) == {p.stem for p in (SOURCES_DIR / "cn").glob("*.md")}
    for source in statutes.values():
        numbers = [p.article for p in source.passages if p.article is not None]
        assert numbers == list(range(1, len(numbers) + 1)), source.code
        annexes = [p for p in source.passages if p.article is None]
        assert annexes in ([], [source.passages[-1]]), source.code  # at most one, last
        assert all(p.key == f"{source.code}:annex" for p in annexes)
        assert source.title
        assert INSTRUMENTS[source.code].has_text


def test_known_articles_and_counts():
    statutes = load_statutes()
    lcl = {p.article: p for p in statutes["CN-LCL"].passages}
    assert len(lcl) == 98
    assert lcl[82].text.startswith("第八十二条")
    assert "二倍的工资" in lcl[82].text
    ll = {p.article: p for p in statutes["CN-LL"].passages}
    assert ll[102].text.startswith("第一百零二条")
    assert statutes["CN-LCL"].dates[-1] == "2012-12-28"


def test_a_notice_without_articles_is_split_by_sections():
    conv = load_statutes()["CN-WAGECONV"]
    assert [p.article for p in conv.passages] == [1, 2, 3]
    assert "21.75" in conv.passages[1].text


def test_the_annex_of_the_female_rules_is_its_own_passage_not_article_16():
    female = {p.key: p for p in load_statutes()["CN-FEMALE"].passages}
    last = female["CN-FEMALE:16"]
    assert last.text == (
        "第十六条 本规定自公布之日起施行。1988年7月21日国务院发布的《女职工劳动保护规定》同时废止。"
    )
    for annex_text in ("附录", "禁忌从事的劳动范围", "矿山井下", "哺乳期"):
        assert annex_text not in last.text
    annex = female["CN-FEMALE:annex"]
    assert annex.article is None
    assert annex.text.startswith("女职工禁忌从事的劳动范围\n一、女职工禁忌从事的劳动范围：")
    assert "三、女职工在孕期禁忌从事的劳动范围：" in annex.text
    assert annex.text.endswith("有毒物质浓度超过国家职业卫生标准的作业。")  # part four, to the end
    assert annex.chapter == "附录"
    assert annex.line == 57
    assert list(female)[-2:] == ["CN-FEMALE:16", "CN-FEMALE:annex"]


_ANNEXED = "# 劳动法\n<!-- INFO END -->\n第一条 甲。\n\n第二条 乙。\n\n{marker}\n\n{annex}"


@pytest.mark.parametrize("marker", ["附录", "附录：", "附录:", "附件", "附件：", "　附件： "])
def test_an_annex_line_ends_the_last_article_in_any_source(tmp_path, marker):
    body = _ANNEXED.format(marker=marker, annex="清单\n\n第一条 不是条文。\n## 一、小节\n")
    passages = parse_source(_write(tmp_path, body)).passages
    assert [p.key for p in passages] == ["CN-LL:1", "CN-LL:2", "CN-LL:annex"]
    assert passages[1].text == "第二条 乙。"
    assert passages[2].text == "清单\n第一条 不是条文。\n一、小节"
    assert passages[2].line == 7


def test_an_annex_of_a_notice_split_by_sections(tmp_path):
    body = "# 通知\n<!-- INFO END -->\n## 一、甲\n正文\n## 二、乙\n正文\n附件：\n表格\n"
    passages = parse_source(_write(tmp_path, body, "CN-WAGECONV.md")).passages
    assert [p.key for p in passages] == ["CN-WAGECONV:1", "CN-WAGECONV:2", "CN-WAGECONV:annex"]
    assert passages[1].text == "二、乙\n正文"
    assert passages[2].text == "表格"


def test_an_empty_annex_names_file_and_line(tmp_path):
    path = _write(tmp_path, _ANNEXED.format(marker="附录：", annex="\n\n"))
    with pytest.raises(SourceParseError, match=r"CN-LL\.md:7: the annex \(附录\) has no text"):
        parse_source(path)


def test_a_second_annex_names_file_and_line(tmp_path):
    path = _write(tmp_path, _ANNEXED.format(marker="附录", annex="清单\n附件：\n表\n"))
    with pytest.raises(SourceParseError, match=r"CN-LL\.md:10: a second annex"):
        parse_source(path)


def test_an_annex_line_before_any_article_is_preamble(tmp_path):
    body = "# 劳动法\n<!-- INFO END -->\n附录\n第一条 甲。\n"
    assert [p.key for p in parse_source(_write(tmp_path, body)).passages] == ["CN-LL:1"]


def _write(tmp_path: Path, body: str, name: str = "CN-LL.md") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_out_of_sequence_article_names_file_and_line(tmp_path):
    path = _write(tmp_path, "# 劳动法\n\n<!-- INFO END -->\n\n第一条 甲。\n\n第三条 乙。\n")
    with pytest.raises(SourceParseError, match=r"CN-LL\.md:7: article 3 out of sequence"):
        parse_source(path)


def test_missing_header_and_unknown_code_are_errors(tmp_path):
    with pytest.raises(SourceParseError, match="INFO END"):
        parse_source(_write(tmp_path, "# 劳动法\n\n第一条 甲。\n"))
    with pytest.raises(SourceParseError, match="unknown instrument"):
        parse_source(_write(tmp_path, "# x\n<!-- INFO END -->\n第一条 甲。\n", "CN-NOPE.md"))
    with pytest.raises(SourceParseError, match="no article"):
        parse_source(_write(tmp_path, "# 劳动法\n<!-- INFO END -->\n正文\n"))


def test_binary_source_is_an_error(tmp_path):
    path = tmp_path / "CN-LL.md"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SourceParseError, match="not UTF-8"):
        parse_source(path)
