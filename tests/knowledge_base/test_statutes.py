from pathlib import Path

import pytest

from knowledge_base.errors import SourceParseError
from knowledge_base.instruments import INSTRUMENTS
from knowledge_base.statutes import SOURCES_DIR, load_statutes, parse_source


def test_every_shipped_source_parses_into_consecutive_articles():
    statutes = load_statutes()
    assert set(statutes) == {p.stem for p in (SOURCES_DIR / "cn").glob("*.md")}
    for source in statutes.values():
        numbers = [p.article for p in source.passages]
        assert numbers == list(range(1, len(numbers) + 1)), source.code
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
