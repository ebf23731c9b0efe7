"""What the WeChat channel needs: its settings, and the parts of the application it uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bot.channels.wechat_crypto import decode_aes_key
from bot.config import ConfigError, Settings
from bot.i18n import Catalogue
from bot.messages import Message, Reply
from grievance.conversations import ConversationState
from grievance.crypto import Vault


class AnswersMessages(Protocol):
    """The Assistant as the channel sees it (tests pass a small fake)."""

    def handle(self, message: Message) -> list[Reply]:
        """Answer one message; [] for a redelivery."""
        ...


class LoadsState(Protocol):
    """The conversation store as the channel sees it: only to know a worker's language."""

    def load(self, user_ref: str, channel: str) -> ConversationState:
        """The stored state of ``user_ref``."""
        ...


class WeChatHost(Protocol):
    """The attributes of :class:`bot.app.App` that the WeChat channel uses.

    ``services["sessions"]`` (a SQLAlchemy session factory), when present, turns on the
    outbox sender for moderators' replies.
    """

    @property
    def assistant(self) -> AnswersMessages:
        """Answers messages."""
        ...

    @property
    def settings(self) -> Settings:
        """Secrets (``WECHAT_*``) and the default language."""
        ...

    @property
    def vault(self) -> Vault:
        """Pseudonyms, and decryption of outbox rows."""
        ...

    @property
    def catalogue(self) -> Catalogue:
        """Interface texts."""
        ...

    @property
    def store(self) -> LoadsState:
        """Conversation state (the worker's language)."""
        ...

    @property
    def services(self) -> dict[str, Any]:
        """Shared services (``sessions`` for the outbox)."""
        ...


@dataclass(frozen=True, slots=True)
class WeChatConfig:
    """The WeChat channel's configuration.

    Attributes:
        token: ``WECHAT_TOKEN``, the server-configuration token.
        app_id: ``WECHAT_APP_ID`` (needed for safe mode and the API).
        app_secret: ``WECHAT_APP_SECRET`` (needed for the customer-service API).
        encoding_aes_key: ``WECHAT_ENCODING_AES_KEY``; set means safe mode only.
        api_base: ``WECHAT_API_BASE``; None for ``https://api.weixin.qq.com``.
        reply_budget: seconds to wait for an answer before replying ``success`` and
            sending it through the customer-service API (WeChat waits 5 s).
        max_body_bytes: the largest POST body accepted.
        max_text_bytes: the byte limit of one text message.
        max_clock_skew: refuse requests whose timestamp is further off (None: no check).
        choice_ttl: seconds a numbered menu stays answerable by digit.
        retry_memory: seconds a message is remembered to join WeChat's retries to it.
        max_in_flight: messages remembered at most for that.

    Raises:
        ValueError: a non-positive budget or limit.
    """

    token: str
    app_id: str | None = None
    app_secret: str | None = None
    encoding_aes_key: str | None = None
    api_base: str | None = None
    reply_budget: float = 4.0
    max_body_bytes: int = 64 * 1024
    max_text_bytes: int = 2000
    max_clock_skew: float | None = 300.0
    choice_ttl: float = 3600.0
    retry_memory: float = 300.0
    max_in_flight: int = 10_000

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("WECHAT_TOKEN must not be empty")
        if not 0 < self.reply_budget < 5:
            raise ValueError(f"reply_budget must be in (0, 5) seconds, got {self.reply_budget}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if self.max_in_flight < 1 or self.retry_memory <= 0:
            raise ValueError("max_in_flight and retry_memory must be positive")
        if self.encoding_aes_key is not None:
            decode_aes_key(self.encoding_aes_key)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> WeChatConfig:
        """The configuration from ``WECHAT_*`` environment variables (via ``settings``).

        Raises:
            ConfigError: no token, or an EncodingAESKey or app secret without an app id.
        """
        secrets = settings.secrets
        if secrets.wechat_token is None:
            raise ConfigError("WECHAT_TOKEN is not set: the WeChat channel is off")
        aes = secrets.wechat_encoding_aes_key
        app_secret = secrets.wechat_app_secret
        if (aes is not None or app_secret is not None) and not secrets.wechat_app_id:
            raise ConfigError(
                "WECHAT_APP_ID is required with WECHAT_ENCODING_AES_KEY or WECHAT_APP_SECRET"
            )
        values: dict[str, Any] = {
            "token": secrets.wechat_token.get_secret_value(),
            "app_id": secrets.wechat_app_id,
            "app_secret": app_secret.get_secret_value() if app_secret else None,
            "encoding_aes_key": aes.get_secret_value() if aes else None,
            "api_base": secrets.wechat_api_base,
        }
        values.update(overrides)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
