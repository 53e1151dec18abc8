"""A supervised child is restarted when it dies, logs to its file, and is stopped with
whatever it started."""

import asyncio
import logging
import os
import signal
import sys

from nlu.processes import ChildSpec, SupervisedProcess

# Starts a grandchild, then prints both pids and waits.
CHILD = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("pids", grandchild.pid, flush=True)
time.sleep(600)
"""


def spec(tmp_path, code: str = CHILD) -> ChildSpec:
    return ChildSpec(
        "sleeper",
        [sys.executable, "-c", code],
        dict(os.environ),
        tmp_path,
        tmp_path / "logs" / "sleeper.log",
    )


async def wait_until(predicate, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
        return stat.read().split()[2] != "Z"


def grandchildren(log_text: str) -> list[int]:
    return [int(line.split()[1]) for line in log_text.splitlines() if line.startswith("pids")]


async def test_a_killed_child_is_restarted_and_stop_ends_its_whole_group(tmp_path, caplog):
    process = SupervisedProcess(spec(tmp_path), first_delay=0.01)
    log_path = tmp_path / "logs" / "sleeper.log"
    process.start()
    try:
        await wait_until(lambda: log_path.exists() and "pids" in log_path.read_text())
        first = process.pid
        assert first is not None
        with caplog.at_level(logging.WARNING, logger="nlu.processes"):
            os.kill(first, signal.SIGKILL)
            await wait_until(lambda: process.pid not in (None, first))
        assert process.starts == 2
        assert "sleeper exited with code -9; restarting" in caplog.text
        await wait_until(lambda: len(grandchildren(log_path.read_text())) == 2)
    finally:
        await process.stop(grace=5)
    assert process.pid is None
    text = log_path.read_text()
    assert text.count("starting sleeper") == 2
    for pid in grandchildren(text):  # of the killed run, and of the stopped one
        await wait_until(lambda pid=pid: not alive(pid))


async def test_a_child_that_will_not_start_is_retried_with_a_growing_pause(tmp_path, caplog):
    broken = ChildSpec("ghost", [str(tmp_path / "missing")], {}, tmp_path, tmp_path / "g.log")
    process = SupervisedProcess(broken, first_delay=0.01, max_delay=0.04)
    with caplog.at_level(logging.WARNING, logger="nlu.processes"):
        process.start()
        await wait_until(lambda: caplog.text.count("ghost exited") >= 4)
        await process.stop()
    pauses = [r.getMessage().split("restarting in ")[1].split()[0] for r in caplog.records]
    assert pauses[:4] == ["0.01", "0.02", "0.04", "0.04"]
    assert str(tmp_path / "missing") in (tmp_path / "g.log").read_text()


async def test_stop_right_after_start_finishes_cleanly(tmp_path):
    process = SupervisedProcess(spec(tmp_path, "import time; time.sleep(600)"))
    process.start()
    await process.stop(grace=5)
    assert process.pid is None
