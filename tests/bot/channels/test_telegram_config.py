"""Telegram settings from the environment: mode, API server, webhook secret."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from bot.channels.telegram_config import TelegramConfig, derive_secret
from bot.config import ConfigError, Secrets, Settings
from tests.bot.channels.telegram_fakes import TOKEN

WEBHOOK_URL = "https://bot.example.org/telegram/webhook"


def test_polling_without_a_webhook_url():
    settings = Settings()
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        TelegramConfig.from_settings(settings)
    settings.secrets = Secrets(telegram_bot_token=SecretStr(f" {TOKEN}\n"))
    polling = TelegramConfig.from_settings(settings)
    assert polling.token == TOKEN and not polling.webhook and polling.base_urls() is None
    assert TOKEN not in repr(polling)


def test_webhook_with_a_derived_or_given_secret_and_another_api_server():
    settings = Settings()
    settings.secrets = Secrets(telegram_bot_token=SecretStr(TOKEN),
                               telegram_webhook_url=WEBHOOK_URL,
                               telegram_api_base="http://127.0.0.1:8081/")
    webhook = TelegramConfig.from_settings(settings)
    assert webhook.webhook and webhook.webhook_secret == derive_secret(TOKEN)
    assert len(webhook.webhook_secret) == 64 and webhook.webhook_secret not in repr(webhook)
    assert webhook.base_urls() == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")
    settings.secrets = Secrets(telegram_bot_token=SecretStr(TOKEN),
                               telegram_webhook_url=WEBHOOK_URL,
                               telegram_webhook_secret=SecretStr("my-secret_1"),
                               telegram_api_base="http://127.0.0.1:8081/bot{token}/test")
    given = TelegramConfig.from_settings(settings)
    assert given.webhook_secret == "my-secret_1"
    assert given.base_urls() == ("http://127.0.0.1:8081/bot{token}/test",) * 2


def test_malformed_tokens_and_secrets_fail_at_start_up_with_what_is_wrong():
    with pytest.raises(ConfigError, match="does not look like"):
        TelegramConfig(token=f'"{TOKEN}"')
    with pytest.raises(ConfigError, match="does not look like"):
        TelegramConfig(token=TOKEN + "\n")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramConfig(token=TOKEN, webhook_url=WEBHOOK_URL, webhook_secret="has spaces")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramConfig(token=TOKEN, webhook_url=WEBHOOK_URL, webhook_secret="")
