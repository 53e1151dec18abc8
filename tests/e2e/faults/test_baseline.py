"""No faults: the harness itself must see every question answered once, in order."""

import pytest

from tests.e2e.faults.scenario import check, play

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240, func_only=True)]
SPREAD = 20.0  # citizens start within this many seconds


async def test_every_question_answered_without_faults(channel, demo_data_dir, make_run):
    run = make_run(channel, demo_data_dir, spread=SPREAD)
    result = await play(run)
    check(run, result, in_order=True)
