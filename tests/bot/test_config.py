import pytest

from bot.config import ConfigError, Secrets, load_settings


def test_defaults_load_from_the_shipped_config():
    settings = load_settings(env={})
    assert settings.server.port == 8080
    assert settings.kb.encoder == "e5"
    assert settings.kb.second_encoder == "use" and settings.kb.second_weight == 0.5
    assert settings.database_url.startswith("sqlite:///")


def test_a_bad_value_names_the_key_and_the_allowed_values(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("nlu:\n  backend: bert\nserver:\n  port: 99999\n"
                    "kb:\n  second_encoder: labse\n  second_weight: 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert "nlu.backend" in message and "'builtin' or 'rasa'" in message and "bert" in message
    assert "server.port" in message
    assert "kb.second_encoder" in message and "'use' or 'none'" in message
    assert "kb.second_weight" in message


def test_unknown_keys_and_secrets_in_the_file_are_refused(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("kb:\n  encoderr: e5\n")
    with pytest.raises(ConfigError, match="kb.encoderr"):
        load_settings(path, env={})
    path.write_text("secrets:\n  telegram_bot_token: x\n")
    with pytest.raises(ConfigError, match="environment variables only"):
        load_settings(path, env={})
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(path, env={})


def test_secrets_come_from_the_environment_and_do_not_print():
    secrets = Secrets.from_env({"TELEGRAM_BOT_TOKEN": "123:abc", "WORKRIGHT_DATABASE_URL": "x"})
    assert secrets.telegram_bot_token is not None
    assert secrets.telegram_bot_token.get_secret_value() == "123:abc"
    assert "123:abc" not in repr(secrets)


def test_environment_database_url_wins(tmp_path):
    settings = load_settings(env={"WORKRIGHT_DATABASE_URL": "sqlite:///elsewhere.db"})
    assert settings.database_url == "sqlite:///elsewhere.db"
