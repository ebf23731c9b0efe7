import pytest

from knowledge_base.instruments import ANNEX, CitationKey, cite_text, parse_key


def test_parse_key_accepts_articles_annex_and_bare_codes():
    assert parse_key("CN-LCL:82") == CitationKey("CN-LCL", "82")
    assert parse_key("CN-LCL:44-1") == CitationKey("CN-LCL", "44-1")
    assert parse_key("CN-MWPAY") == CitationKey("CN-MWPAY", None)
    annex = parse_key("CN-FEMALE:annex")
    assert annex == CitationKey("CN-FEMALE", ANNEX)
    assert annex.is_annex and not parse_key("CN-FEMALE:16").is_annex
    assert str(annex) == "CN-FEMALE:annex"


@pytest.mark.parametrize("key", ["CN-FEMALE:Annex", "CN-FEMALE:annex1", "CN-FEMALE:附录",
                                 "CN-FEMALE:", "cn-lcl:82"])
def test_parse_key_rejects_malformed_keys(key):
    with pytest.raises(ValueError, match="malformed citation key"):
        parse_key(key)


def test_cite_text_of_articles():
    assert cite_text("CN-LCL:82", "zh") == "《劳动合同法》第八十二条"
    assert cite_text("CN-LCL:82", "en") == "Labour Contract Law art. 82"
    assert cite_text("CN-FEMALE:16", "zh") == "《女职工劳动保护特别规定》第十六条"
    assert cite_text("ETI-BASE:6", "en") == "ETI Base Code clause 6"


def test_cite_text_of_an_annex():
    assert cite_text("CN-FEMALE:annex", "zh") == "《女职工劳动保护特别规定》附录"
    assert cite_text("CN-FEMALE:annex", "en") == "Female Employees Protection Rules annex"
