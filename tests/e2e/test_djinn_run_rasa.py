"""`djinn run` with Rasa on, as `make run` starts it: it starts the Rasa server and the
action server itself, a citizen in the fake Telegram talks to Rasa (its buttons become an
inline keyboard and come back to it), and Ctrl+C stops all three processes."""

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
import yaml

from nlu.project import PROJECT_DIR
from tests.rasa_fixtures import free_port
from tools.fake_telegram import DEFAULT_TOKEN, FakeTelegram

pytestmark = pytest.mark.slow
STARTED = re.compile(r"(Rasa|action server) started \(pid (\d+)")


def greetings() -> list[str]:
    domain = yaml.safe_load((PROJECT_DIR / "domain.yml").read_text(encoding="utf-8"))
    return [variant["text"] for variant in domain["responses"]["utter_greet"]]


async def wait_for_line(process: asyncio.subprocess.Process, text: str, seen: list[str]) -> None:
    async with asyncio.timeout(300):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "djinn exited:\n" + "".join(seen)
            seen.append(line)
            if text in line:
                return


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


async def test_djinn_run_starts_rasa_and_the_action_server_and_stops_them(
    rasa_model: Path, demo_data_dir: Path
):
    models = demo_data_dir / "rasa" / "models"
    models.mkdir(parents=True)
    (models / rasa_model.name).symlink_to(rasa_model)
    async with FakeTelegram() as tg:
        env = {
            **os.environ,
            "DJINN_DATA_DIR": str(demo_data_dir),
            "DJINN_METRICS_PORT": "0",
            "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
            "TELEGRAM_API_URL": tg.api_url,
            "DJINN_RASA": "on",
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_SERVER_URL": f"http://127.0.0.1:{free_port()}",
        }
        djinn = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "run",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        seen: list[str] = []
        try:
            await wait_for_line(djinn, "Rasa is available", seen)
            output = "".join(seen)
            assert "Rasa: запускается" in output and "Djinn работает" in output
            pids = {name: int(pid) for name, pid in STARTED.findall(output)}
            assert set(pids) == {"Rasa", "action server"}

            citizen = tg.citizen(1001, "Анна")
            citizen.send_text("Здравствуйте!")
            [greeting] = await tg.wait_for_messages(1001, 1, timeout=60)
            assert greeting["text"] in greetings()
            first = greeting["reply_markup"]["inline_keyboard"][0][0]
            citizen.press_button(greeting, first["callback_data"])
            messages = await tg.wait_for_messages(1001, 2, timeout=60)
            assert messages[1]["text"] not in greetings()

            djinn.send_signal(signal.SIGINT)
            rest = (await asyncio.wait_for(djinn.stdout.read(), 60)).decode()
            assert await djinn.wait() == 0, rest
        finally:
            if djinn.returncode is None:
                djinn.kill()
                await djinn.wait()
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert (demo_data_dir / "logs" / "rasa.log").exists()
    assert (demo_data_dir / "rasa" / "tracker.sqlite3").exists()
