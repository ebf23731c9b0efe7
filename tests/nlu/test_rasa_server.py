"""Tests of nlu/rasa_server.py that need no Rasa: model cache key, layout, /proc, Python 3.10."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nlu.errors import NLUBackendUnavailable
from nlu.rasa_server import (
    RasaLayout,
    RasaServer,
    find_python310,
    free_port,
    main,
    process_rss_bytes,
    train,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def layout(tmp_path: Path) -> RasaLayout:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "en.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    (tmp_path / "data" / "zh.yml").write_text('version: "3.1"\nnlu: []\n', encoding="utf-8")
    (tmp_path / "config.yml").write_text("language: xx\n", encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("rasa==3.6.21\n", encoding="utf-8")
    return RasaLayout(
        venv=tmp_path / "venv",
        config=tmp_path / "config.yml",
        requirements=tmp_path / "requirements.txt",
        data_dir=tmp_path / "data",
        models_dir=tmp_path / "models",
    )


def test_repo_layout_matches_the_makefile():
    layout = RasaLayout.for_repo(REPO)

    assert layout.venv == REPO / ".rasa-venv"
    assert layout.rasa == REPO / ".rasa-venv" / "bin" / "rasa"
    assert layout.config == REPO / "nlu" / "rasa" / "config.yml"
    assert layout.data_dir == REPO / "nlu" / "data"
    assert layout.models_dir == REPO / "var" / "rasa" / "models"
    makefile = (REPO / "mk" / "rasa.mk").read_text(encoding="utf-8")
    for value in (
        ".rasa-venv",
        "nlu/rasa/config.yml",
        "nlu/rasa/requirements.txt",
        "nlu/data",
        "var/rasa/models",
    ):
        assert value in makefile
    assert layout.config.is_file()
    assert layout.requirements.is_file()


def test_pins_name_the_rasa_version_the_code_expects():
    pins = (REPO / "nlu" / "rasa" / "requirements.txt").read_text(encoding="utf-8").split()
    assert "rasa==3.6.21" in pins


def test_model_path_is_stable_and_named_by_content(layout):
    first = layout.model_path()

    assert first == layout.model_path()
    assert first.parent == layout.models_dir
    assert first.name.endswith(".tar.gz")
    assert len(first.name.removesuffix(".tar.gz")) == 16


@pytest.mark.parametrize("changed", ["data/en.yml", "config.yml", "requirements.txt"])
def test_any_input_change_names_a_new_model(layout, changed):
    before = layout.fingerprint()
    path = layout.config.parent / changed
    path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")

    assert layout.fingerprint() != before


def test_renaming_a_training_file_names_a_new_model(layout):
    before = layout.fingerprint()
    (layout.data_dir / "en.yml").rename(layout.data_dir / "vi.yml")

    assert layout.fingerprint() != before


def test_only_yml_files_are_training_data(layout):
    before = layout.fingerprint()
    (layout.data_dir / "README.md").write_text("notes", encoding="utf-8")

    assert layout.fingerprint() == before
    assert [p.name for p in layout.training_files()] == ["en.yml", "zh.yml"]


def test_empty_data_dir_fails_naming_it(layout):
    for path in layout.data_dir.glob("*.yml"):
        path.unlink()

    with pytest.raises(FileNotFoundError, match=str(layout.data_dir)):
        layout.model_path()


def test_cli_model_path_prints_what_the_library_computes(layout, capsys):
    status = main(
        ["model-path", "--venv", str(layout.venv), "--config", str(layout.config),
         "--requirements", str(layout.requirements), "--data-dir", str(layout.data_dir),
         "--models-dir", str(layout.models_dir)]
    )  # fmt: skip

    assert status == 0
    assert capsys.readouterr().out == f"{layout.model_path()}\n"


def test_cli_fails_with_a_message_when_there_is_no_data(layout, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()

    status = main(["model-path", "--config", str(layout.config), "--data-dir", str(empty)])

    assert status == 1
    assert f"no *.yml training files in {empty}" in capsys.readouterr().err


def test_train_with_a_cached_model_does_nothing(layout):
    layout.models_dir.mkdir()
    layout.model_path().write_bytes(b"cached")

    assert train(layout) == layout.model_path()  # no venv needed: nothing to train


def test_train_without_the_venv_says_to_run_make_rasa(layout):
    with pytest.raises(FileNotFoundError, match="run `make rasa`"):
        train(layout)


def test_process_rss_bytes_reads_proc():
    assert process_rss_bytes(os.getpid()) > 1_000_000


def test_process_rss_bytes_of_a_missing_process_raises():
    process = subprocess.Popen(["true"])
    process.wait()
    with pytest.raises(ProcessLookupError, match=str(process.pid)):
        process_rss_bytes(process.pid)


def test_free_port_is_bindable():
    port = free_port()
    assert 1024 <= port <= 65535


def test_find_python310_finds_3_10_or_nothing():
    python = find_python310()
    if python is None:
        pytest.skip("no python3.10 here")
    done = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "(3, 10)"


def _fake_rasa(tmp_path: Path, script: str) -> tuple[Path, Path]:
    """An executable stand-in for the ``rasa`` command running ``script``, and an empty model."""
    rasa = tmp_path / "rasa"
    rasa.write_text(script, encoding="utf-8")
    rasa.chmod(0o755)
    model = tmp_path / "m.tar.gz"
    model.write_bytes(b"")
    return rasa, model


def test_server_refuses_missing_files_and_empty_token(tmp_path, layout):
    rasa, model = _fake_rasa(tmp_path, "#!/bin/sh\n")

    with pytest.raises(FileNotFoundError, match="make rasa"):
        RasaServer(tmp_path / "nope", model, token="t")
    with pytest.raises(FileNotFoundError, match="make rasa"):
        RasaServer(rasa, tmp_path / "nope.tar.gz", token="t")
    with pytest.raises(ValueError, match="token must not be empty"):
        RasaServer(rasa, model, token="")
    with pytest.raises(ValueError, match="got 0"):
        RasaServer(rasa, model, token="t", startup_timeout_s=0)


def test_server_that_exits_at_once_fails_start_with_its_output(tmp_path):
    rasa, model = _fake_rasa(tmp_path, "#!/bin/sh\necho 'cannot load model' >&2\nexit 3\n")
    server = RasaServer(rasa, model, token="t", startup_timeout_s=30)

    with pytest.raises(NLUBackendUnavailable, match=r"exited with 3(.|\n)*cannot load model"):
        server.start()
    assert not server.running()


def test_a_token_that_starts_with_a_dash_reaches_rasa_as_the_tokens_value(tmp_path):
    # secrets.token_urlsafe() starts with "-" one time in 64; as a separate argument rasa's
    # argparse took it for an option and refused to start.
    rasa, model = _fake_rasa(tmp_path, '#!/bin/sh\necho "$@" >&2\nexit 3\n')
    server = RasaServer(rasa, model, token="-dash-token", startup_timeout_s=30)

    with pytest.raises(NLUBackendUnavailable, match="--auth-token=-dash-token "):
        server.start()


def test_server_that_never_answers_is_stopped_after_the_timeout(tmp_path):
    rasa, model = _fake_rasa(tmp_path, "#!/bin/sh\nexec sleep 60\n")
    server = RasaServer(rasa, model, token="t", startup_timeout_s=0.5)

    with pytest.raises(NLUBackendUnavailable, match=r"did not answer /status within 0.5 s"):
        server.start()
    assert not server.running()
