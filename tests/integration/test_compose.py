"""docker-compose.yml describes a valid production stack that only uses real settings."""

import os
import subprocess

import yaml

from tests.conftest import ROOT, setting_names


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_compose_file_is_valid_and_complete():
    result = compose_config(POSTGRES_PASSWORD="test-password")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert {"postgres", "redis", "migrate", "telegram-bot", "vk-bot"} <= set(services)
    known = setting_names()
    for name in ("telegram-bot", "vk-bot", "migrate"):
        unknown = set(services[name]["environment"]) - known
        assert not unknown, f"{name} sets variables Djinn does not read: {unknown}"
    assert services["telegram-bot"]["command"] == ["bot", "telegram"]


def test_compose_refuses_to_start_without_a_database_password():
    result = compose_config(POSTGRES_PASSWORD="")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
