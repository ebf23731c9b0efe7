"""YAML with duplicate keys refused, for the hand-written source files."""

import pytest
import yaml

from knowledge_base import strict_yaml
from knowledge_base.errors import KnowledgeBaseError
from knowledge_base.synonyms import SynonymTable


def test_it_reads_what_safe_load_reads():
    text = "a: [1, 2]\nb:\n  c: x\n  d: {e: 1}\n"
    assert strict_yaml.load(text) == yaml.safe_load(text)


def test_a_key_twice_is_refused_with_its_line():
    with pytest.raises(yaml.YAMLError, match="appears twice") as caught:
        strict_yaml.load("vi:\n  职业病: [a]\n  工会: [b]\n  职业病: [c]\n")
    assert "line 4" in str(caught.value)


def test_equal_keys_in_different_mappings_are_fine():
    assert strict_yaml.load("vi:\n  工会: [a]\nid:\n  工会: [b]\n") == {
        "vi": {"工会": ["a"]}, "id": {"工会": ["b"]}}


def test_a_synonym_file_with_a_bridge_twice_is_named(tmp_path):
    path = tmp_path / "synonyms.yml"
    path.write_text("bridges:\n  vi:\n    欠工资: [nợ lương]\n    欠工资: [nợ tiền]\n",
                    encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="appears twice"):
        SynonymTable.load(path)
