"""`python -m nlu.actions`: the action server as `djinn run` starts it, called the way
the Rasa server calls it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, setting_names
from tests.rasa_fixtures import free_port
from tests.trackers import load_domain


def _get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def _post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


@pytest.fixture
def action_server(demo_data_dir: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in setting_names()}
    env.update(DJINN_DATA_DIR=str(demo_data_dir), DJINN_ORG_NAME="Администрация города Энска")
    log = (tmp_path / "actions.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "nlu.actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "actions.log").read_text()
            try:
                if _get(f"{url}/health")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "the action server did not start in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def action_call(action: str, text: str, intent: str) -> dict:
    return {
        "next_action": action,
        "sender_id": "no-conversation",
        "version": "3.6.21",
        "domain": load_domain(),
        "tracker": {
            "sender_id": "no-conversation",
            "slots": {},
            "latest_message": {
                "text": text,
                "intent": {"name": intent, "confidence": 0.97},
                "entities": [],
                "metadata": {"channel": "telegram", "kind": "text"},
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_the_action_server_serves_our_actions(action_server):
    names = {a["name"] for a in _get(f"{action_server}/actions")[1]}
    assert {"action_answer_faq", "validate_appeal_form", "action_submit_appeal"} <= names

    status, body = _post(
        f"{action_server}/webhook",
        action_call("action_ask_appeal_consent", "хочу подать заявку", "file_appeal"),
    )
    assert status == 200
    [message] = body["responses"]
    assert "Администрация города Энска" in message["custom"]["djinn"]["text"]


def test_faq_answers_through_the_webhook(action_server):
    call = action_call("action_answer_faq", "как передать показания счётчика воды", "ask_question")
    status, body = _post(f"{action_server}/webhook", call)
    assert status == 200
    [message] = body["responses"]
    assert message["custom"]["djinn"]["buttons"]
