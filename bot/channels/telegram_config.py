"""Telegram settings: the bot token, another Bot API server, webhook or polling.

Everything comes from the environment (``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_WEBHOOK_URL``,
``TELEGRAM_WEBHOOK_SECRET``, ``TELEGRAM_API_BASE``), never from ``config.yml``; a malformed
token or secret fails at start-up with what is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from bot.config import ConfigError, Settings

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """How to reach Telegram; built from the environment by :meth:`from_settings`.

    Attributes:
        token: the bot token from @BotFather (never logged, never in ``config.yml``).
        api_base: another Bot API server (a local one, or a test fake), e.g.
            ``http://127.0.0.1:8081``; ``None`` for api.telegram.org.
        webhook_url: the public HTTPS URL Telegram posts to (ending in
            ``/telegram/webhook``); ``None`` selects polling.
        webhook_secret: the value Telegram must send in ``X-Telegram-Bot-Api-Secret-Token``.
    """

    token: str = field(repr=False)
    api_base: str | None = None
    webhook_url: str | None = None
    webhook_secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not _TOKEN_RE.fullmatch(self.token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token from @BotFather "
                "(digits, a colon, then letters, digits, '_' or '-'; no quotes or spaces)"
            )
        if self.webhook_url and not _SECRET_RE.fullmatch(self.webhook_secret):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, '_' or '-'"
            )

    @property
    def webhook(self) -> bool:
        """True in webhook mode, False when polling."""
        return bool(self.webhook_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramConfig:
        """The configuration from ``TELEGRAM_*`` environment variables.

        Without ``TELEGRAM_WEBHOOK_SECRET`` a secret is derived from the token, so a webhook
        is never left open.

        Raises:
            ConfigError: no token, or a malformed token or secret.
        """
        secrets_ = settings.secrets
        if secrets_.telegram_bot_token is None:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
        token = secrets_.telegram_bot_token.get_secret_value().strip()
        secret = secrets_.telegram_webhook_secret
        return cls(
            token=token,
            api_base=secrets_.telegram_api_base or None,
            webhook_url=secrets_.telegram_webhook_url or None,
            webhook_secret=secret.get_secret_value() if secret else derive_secret(token),
        )

    def base_urls(self) -> tuple[str, str] | None:
        """``(base_url, base_file_url)`` for another Bot API server, else None."""
        if not self.api_base:
            return None
        if "{token}" in self.api_base:
            return self.api_base, self.api_base
        root = self.api_base.rstrip("/")
        return f"{root}/bot", f"{root}/file/bot"


def derive_secret(token: str) -> str:
    """A webhook secret derived from the bot token (64 hex characters)."""
    return hmac.new(token.encode(), b"workright telegram webhook", hashlib.sha256).hexdigest()


