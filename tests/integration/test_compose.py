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
    assert {"postgres", "redis", "migrate", "telegram-bot", "vk-bot", "rasa", "actions"} <= set(
        services
    )
    known = setting_names()
    for name in ("telegram-bot", "vk-bot", "migrate", "actions"):
        unknown = set(services[name]["environment"]) - known
        assert not unknown, f"{name} sets variables Djinn does not read: {unknown}"
    assert services["telegram-bot"]["command"] == ["bot", "telegram"]


def test_compose_bots_use_the_rasa_and_actions_services():
    services = yaml.safe_load(compose_config(POSTGRES_PASSWORD="pw").stdout)["services"]
    for bot in ("telegram-bot", "vk-bot"):
        env = services[bot]["environment"]
        assert env["RASA_URL"] == "http://rasa:5005"
        assert env["ACTION_SERVER_URL"] == "http://actions:5055"
        assert env["DJINN_RASA_MANAGED"] == "0"
    rasa = services["rasa"]
    assert rasa["build"]["context"].endswith("/nlu")
    assert rasa["environment"]["ACTION_SERVER_URL"] == "http://actions:5055"
    assert "endpoints.compose.yml" in (ROOT / "nlu" / "Dockerfile").read_text()
    assert services["actions"]["entrypoint"] == ["python", "-m", "nlu.actions"]
    assert services["actions"]["image"] == services["telegram-bot"]["image"]


def test_compose_rasa_endpoints_name_only_services_of_the_file():
    endpoints = yaml.safe_load((ROOT / "nlu" / "endpoints.compose.yml").read_text())
    services = yaml.safe_load(compose_config(POSTGRES_PASSWORD="pw").stdout)["services"]
    assert endpoints["tracker_store"]["url"] in services
    assert endpoints["lock_store"]["url"] in services
    assert endpoints["action_endpoint"]["url"] == "${ACTION_SERVER_URL}/webhook"


def test_compose_refuses_to_start_without_a_database_password():
    result = compose_config(POSTGRES_PASSWORD="")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
