"""Tests of nlu/training.py: loading Rasa-format files, the digest, the held-out split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from nlu.training import (
    MIXED_LANGUAGE,
    TrainingData,
    TrainingDataError,
    TrainingExample,
    language_of,
    load_training_data,
    load_training_file,
    write_rasa_nlu,
)
from nlu.types import INTENTS

DATA_DIR = Path(__file__).resolve().parents[2] / "nlu" / "data"

GOOD = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
- synonym: boss
  examples: |
    - manager
- intent: goodbye
  examples:
  - text: bye
  - text: see you
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_real_data_loads_with_known_intents_and_languages() -> None:
    data = load_training_data(DATA_DIR)
    assert len(data) > 1000
    assert set(data.intents) == set(INTENTS)
    langs = Counter(e.lang for e in data.examples)
    assert langs["zh"] >= 40 * len(INTENTS)
    assert langs["en"] >= 40 * len(INTENTS)
    assert all(e.text == e.text.strip() and e.text for e in data.examples)


def test_file_reads_block_and_list_examples_and_skips_other_blocks(tmp_path: Path) -> None:
    examples = load_training_file(write(tmp_path, "en.yml", GOOD))
    assert examples == [
        TrainingExample("hello", "greet", "en"),
        TrainingExample("hi there", "greet", "en"),
        TrainingExample("bye", "goodbye", "en"),
        TrainingExample("see you", "goodbye", "en"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nlu: [\n", "not valid YAML"),
        ("- just a list\n", "top level must be a mapping"),
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n", "missing 'version'"),
        ('version: "3.1"\n', "'nlu' must be a list"),
        ('version: "3.1"\nnlu: 3\n', "'nlu' must be a list"),
        ('version: "3.1"\nnlu:\n- just text\n', "block 1 is not a mapping"),
        ('version: "3.1"\nnlu:\n- intent: report_abuse\n  examples: |\n    - hi\n',
         "unknown intent 'report_abuse'"),
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    hi\n',
         "does not start with '- '"),
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    -  \n',
         "an example is empty"),
        ('version: "3.1"\nnlu:\n- intent: greet\n', "'examples' must be"),
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples: ""\n', "no examples"),
        ('version: "3.1"\nnlu:\n- intent: greet\n  examples:\n  - hi\n', "'text' string"),
    ],
)  # fmt: skip
def test_malformed_file_error_names_the_file(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "zh.yml", text)
    with pytest.raises(TrainingDataError) as caught:
        load_training_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert problem in message


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "vi.yml"
    path.write_bytes(b'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - \xff\xfe\n')
    with pytest.raises(TrainingDataError, match="vi.yml: not UTF-8"):
        load_training_file(path)


def test_folder_error_names_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "en.yml", GOOD)
    write(tmp_path, "zh.yml", 'version: "3.1"\nnlu:\n- intent: nope\n  examples: |\n    - x\n')
    with pytest.raises(TrainingDataError, match=r"zh\.yml"):
        load_training_data(tmp_path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_training_data(tmp_path)


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("zh.yml", "zh"),
        ("km.yaml", "km"),
        ("extra_narratives_en.yml", "en"),
        ("extra_danger.my.yml", "my"),
        ("extra_danger.yml", MIXED_LANGUAGE),
        ("fr.yml", MIXED_LANGUAGE),
    ],
)
def test_language_comes_from_the_file_name(name: str, lang: str) -> None:
    assert language_of(Path(name)) == lang


def test_digest_follows_examples_not_formatting(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = load_training_data([write(tmp_path / "a", "en.yml", GOOD)])
    reformatted = GOOD.replace("- intent: greet", "# a comment\n- intent: greet")
    b = load_training_data([write(tmp_path / "b", "en.yml", reformatted)])
    assert a.digest == b.digest
    assert a.digest != TrainingData.of(a.examples[:-1]).digest
    relabelled = [TrainingExample(e.text, e.intent, "zh") for e in a.examples]
    assert a.digest != TrainingData.of(relabelled).digest


def test_split_is_deterministic_disjoint_and_stratified() -> None:
    data = load_training_data(DATA_DIR)
    train, test = data.split(test_fraction=0.2, seed=13)
    again_train, again_test = data.split(test_fraction=0.2, seed=13)
    assert train.digest == again_train.digest and test.digest == again_test.digest
    assert len(train) + len(test) == len(data)
    assert not {t.casefold() for t in train.texts} & {t.casefold() for t in test.texts}
    assert 0.17 < len(test) / len(data) < 0.23
    strata = Counter((e.intent, e.lang) for e in data.examples)
    held = Counter((e.intent, e.lang) for e in test.examples)
    # A text in two files ("hello" in zh.yml and en.yml) follows its first stratum.
    for stratum, n in strata.items():
        assert abs(held[stratum] - round(n * 0.2)) <= 2, stratum
    other_train, _ = data.split(test_fraction=0.2, seed=14)
    assert other_train.digest != train.digest


def test_split_keeps_an_example_on_its_side_when_data_grows() -> None:
    data = load_training_data(DATA_DIR)
    _, test = data.split()
    grown = TrainingData.of(
        [*data.examples, *(TrainingExample(f"new example {i}", "greet", "en") for i in range(50))]
    )
    _, grown_test = grown.split()
    moved = set(test.texts) - set(grown_test.texts)
    assert len(moved) <= 15  # only the greet/en stratum's cut can shift


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 2])
def test_split_rejects_bad_fraction(fraction: float) -> None:
    data = TrainingData.of([TrainingExample("hi", "greet", "en")])
    with pytest.raises(ValueError, match="test_fraction"):
        data.split(test_fraction=fraction)


def test_rasa_file_round_trip(tmp_path: Path) -> None:
    data = load_training_data(DATA_DIR)
    _, test = data.split()
    path = tmp_path / "train.yml"
    write_rasa_nlu(test.examples, path)
    back = load_training_file(path)
    assert sorted((e.intent, e.text) for e in back) == sorted(
        (e.intent, e.text) for e in test.examples
    )
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["version"] == "3.1"
