import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_defaults_need_nothing(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'djinn.sqlite3'}"
    assert settings.redis_url is None
    assert settings.missing_channels() == {
        "telegram": ["TELEGRAM_BOT_TOKEN"],
        "vk": ["VK_GROUP_TOKEN", "VK_GROUP_ID"],
        "max": ["MAX_BOT_TOKEN"],
    }


def test_environment_and_dotenv_are_read(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("TELEGRAM_BOT_TOKEN=123:abc\nVK_GROUP_ID=42\n", encoding="utf-8")
    monkeypatch.setenv("VK_GROUP_TOKEN", "vk-token")
    monkeypatch.setenv("MAX_BOT_TOKEN", "max-token")
    monkeypatch.setenv("DJINN_DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=env_file)
    assert settings.telegram_bot_token.get_secret_value() == "123:abc"
    assert (settings.vk_group_id, settings.data_dir) == (42, tmp_path)
    assert settings.missing_channels() == {}
    assert "123:abc" not in repr(settings)


def test_webhook_and_callback_modes_name_what_they_need():
    settings = Settings(
        _env_file=None,
        telegram_bot_token="1:a",
        telegram_mode="webhook",
        vk_group_token="t",
        vk_group_id=1,
        vk_mode="callback",
        max_bot_token="m",
        max_mode="webhook",
    )
    assert settings.missing_channels() == {
        "telegram": ["TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET"],
        "vk": ["VK_CALLBACK_SECRET", "VK_CONFIRMATION_CODE"],
        "max": ["MAX_WEBHOOK_URL", "MAX_WEBHOOK_SECRET"],
    }


def test_placeholder_secrets_are_refused_in_production():
    with pytest.raises(ValidationError, match="TELEGRAM_BOT_TOKEN"):
        Settings(_env_file=None, env="prod", telegram_bot_token="changeme")
    assert Settings(_env_file=None, env="dev", telegram_bot_token="changeme")
