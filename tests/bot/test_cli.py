"""The `workright` command line on real parts."""

import json

from bot.cli import main
from tests.conftest import INDEX_DIR


def _config(tmp_path, index_dir):
    path = tmp_path / "config.yml"
    path.write_text(
        f"database:\n  url: sqlite:///{tmp_path}/cli.db\n"
        f"privacy:\n  key_file: {tmp_path}/secret.key\n"
        f"kb:\n  index_dir: {index_dir}\n",
        encoding="utf-8",
    )
    return str(path)


def test_kb_stats_json(capsys):
    assert main(["kb", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["cards"] >= 200 and stats["passages"] > 1000
    assert {"by_jurisdiction", "by_instrument", "by_topic", "by_language"} <= set(stats)


def test_kb_check_passes(capsys):
    assert main(["kb", "check"]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def test_a_missing_index_says_to_run_kb_build(tmp_path, capsys):
    code = main(["--config", _config(tmp_path, tmp_path / "no-index"), "ask", "加班费怎么算"])
    assert code == 2
    assert "workright kb build" in capsys.readouterr().err


def test_a_bad_config_value_names_the_key(tmp_path, capsys):
    path = tmp_path / "bad.yml"
    path.write_text("kb:\n  encoder: word2vec\n", encoding="utf-8")
    assert main(["--config", str(path), "kb", "stats"]) == 2
    err = capsys.readouterr().err
    assert "kb.encoder" in err and "'e5'" in err


def test_ask_json_and_maintenance(tmp_path, capsys, index):
    del index  # built by the session fixture under INDEX_DIR
    config = _config(tmp_path, INDEX_DIR)
    assert main(["--config", config, "ask", "公司不和我签劳动合同怎么办", "--json"]) == 0
    replies = json.loads(capsys.readouterr().out)["replies"]
    assert {c["key"] for r in replies for c in r["citations"]} & {"CN-LCL:82", "CN-LCL:10"}
    assert main(["--config", config, "maintenance"]) == 0
    purged = json.loads(capsys.readouterr().out)
    assert purged["conversations_purged"] == 0 and "closed_cases_purged" in purged
