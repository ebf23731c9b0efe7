"""Settings: defaults from ``config.yml``, secrets only from environment variables.

One typed object, built in ``main()`` and passed down; no module-level singleton. A bad
value fails at start-up with the key and the allowed values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

if TYPE_CHECKING:
    from grievance.crypto import Vault

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config.yml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    """The ASGI server (web chat, API, webhooks, console)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=262_144, ge=1024)


class DatabaseSettings(_Section):
    """Where state and cases are stored (``WORKRIGHT_DATABASE_URL`` overrides ``url``)."""

    url: str = "sqlite:///var/workright.db"


class KnowledgeBaseSettings(_Section):
    """Encoder, index and retrieval."""

    encoder: Literal["e5", "sentence-transformers"] = "e5"
    encoder_model: str = ""
    second_encoder: Literal["use", "none"] = "use"
    second_weight: float = Field(default=0.5, gt=0.0, le=2.0)
    index_dir: Path = Path("var/index")
    top_k: int = Field(default=3, ge=1, le=10)
    min_similarity: float = Field(default=0.80, ge=0.0, le=1.0)
    min_lexical: float = Field(default=1.0, ge=0.0)
    strong_similarity: float = Field(default=0.88, ge=0.0, le=1.0)


class NLUSettings(_Section):
    """The intent classifier."""

    backend: Literal["builtin", "rasa"] = "builtin"
    model_dir: Path = Path("var/nlu")
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_s: float = Field(default=2.0, gt=0)
    confidence_threshold: float = Field(default=0.45, ge=0.0, le=1.0)


class PrivacySettings(_Section):
    """Encryption key location (the key itself may come from ``WORKRIGHT_SECRET_KEY``)."""

    key_file: Path = Path("var/secret.key")
    conversation_retention_days: int = Field(default=90, ge=1)
    closed_case_retention_days: int = Field(default=365, ge=1)


class AssistantSettings(_Section):
    """Conversation behaviour."""

    default_language: Literal["zh", "en", "vi", "id", "bn", "km", "my"] = "zh"
    default_country: str | None = None
    max_question_chars: int = Field(default=2000, ge=100)


class Secrets(BaseModel):
    """Secrets and deployment endpoints, read from the environment only (never config.yml).

    ``WECHAT_API_BASE`` / ``TELEGRAM_API_BASE`` point the API clients at another server
    (tests use fakes on loopback); ``TELEGRAM_WEBHOOK_URL`` switches Telegram from polling
    to webhook mode.
    """

    secret_key: SecretStr | None = None
    database_url: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_encoding_aes_key: SecretStr | None = None
    wechat_api_base: str | None = None
    telegram_webhook_url: str | None = None
    telegram_api_base: str | None = None
    rasa_auth_token: SecretStr | None = None
    console_secret: SecretStr | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        """Read ``WORKRIGHT_SECRET_KEY``, ``TELEGRAM_BOT_TOKEN``, ``WECHAT_*`` ... ."""
        env = dict(os.environ) if env is None else env
        names = {
            "secret_key": "WORKRIGHT_SECRET_KEY",
            "database_url": "WORKRIGHT_DATABASE_URL",
            "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
            "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
            "wechat_token": "WECHAT_TOKEN",
            "wechat_app_id": "WECHAT_APP_ID",
            "wechat_app_secret": "WECHAT_APP_SECRET",
            "wechat_encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
            "wechat_api_base": "WECHAT_API_BASE",
            "telegram_webhook_url": "TELEGRAM_WEBHOOK_URL",
            "telegram_api_base": "TELEGRAM_API_BASE",
            "rasa_auth_token": "RASA_AUTH_TOKEN",
            "console_secret": "WORKRIGHT_CONSOLE_SECRET",
        }
        return cls.model_validate({f: env[var] for f, var in names.items() if env.get(var)})


class Settings(_Section):
    """Everything configurable, in one typed object.

    Usage example::

        settings = load_settings()                     # config.yml + environment
        settings = Settings(database=DatabaseSettings(url="sqlite:///tmp/x.db"))  # tests
    """

    data_dir: Path = Path("var")
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kb: KnowledgeBaseSettings = Field(default_factory=KnowledgeBaseSettings)
    nlu: NLUSettings = Field(default_factory=NLUSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    assistant: AssistantSettings = Field(default_factory=AssistantSettings)
    extra: dict[str, Any] = Field(default_factory=dict)
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @property
    def database_url(self) -> str:
        """The database URL: the environment's if set, else config.yml's."""
        if self.secrets.database_url is not None:
            return self.secrets.database_url.get_secret_value()
        return self.database.url

    def open_vault(self) -> Vault:
        """The deployment's vault: ``WORKRIGHT_SECRET_KEY``, else the key file (0600)."""
        from grievance.crypto import open_vault

        secret = self.secrets.secret_key
        return open_vault(
            secret.get_secret_value() if secret else None, self.resolve(self.privacy.key_file)
        )

    def resolve(self, path: Path) -> Path:
        """A relative path from the config, resolved against the project root."""
        return path if path.is_absolute() else PROJECT_ROOT / path


def load_settings(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read ``config.yml`` (or ``path``) and the environment into :class:`Settings`.

    Raises:
        ConfigError: naming every bad key with its allowed values.
    """
    path = path or Path(os.environ.get("WORKRIGHT_CONFIG", DEFAULT_CONFIG))
    data: Any = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    if "secrets" in data:
        raise ConfigError(f"{path}: secrets are read from environment variables only")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path))) from exc
    settings.secrets = Secrets.from_env(env)
    return settings


def describe_validation_error(exc: ValidationError, where: str) -> str:
    """One line per bad key: ``config.yml: nlu.backend: Input should be 'builtin' or 'rasa'``."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        got = error.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{where}: {key}: {error['msg']}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
