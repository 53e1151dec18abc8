"""PostgreSQL restarted mid-traffic: the bot on a fresh database of the local server
loses its connections for as long as the restart takes, and must answer everything."""

import shutil

import pytest

from tests.conftest import DEMO_FAQ
from tests.e2e.faults.bot import run_cli
from tests.e2e.faults.database import fresh_postgres_database, restart_postgres, stored_in_postgres
from tests.e2e.faults.scenario import Run, check, play

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.timeout(300, func_only=True),
]
SPREAD = 30.0
RESTART_AT = (8.0, 16.0)  # seconds into the traffic


async def restart_mid_traffic(run: Run) -> None:
    await run.wait_until(run.rng.uniform(*RESTART_AT))
    run.event("postgres restart")
    seconds = await restart_postgres()
    run.event(f"postgres back after {seconds:.1f}s")


async def test_no_message_lost_when_postgres_restarts(telegram, demo_data_dir, tmp_path, make_run):
    data_dir = tmp_path / "pg-data"
    # Index snapshots are per database; only the embeddings may be shared.
    (data_dir / "index").mkdir(parents=True)
    shutil.copy(demo_data_dir / "index" / "embeddings.sqlite3", data_dir / "index")
    async with fresh_postgres_database() as url:
        run = make_run(
            telegram,
            data_dir,
            spread=SPREAD,
            stored=lambda: stored_in_postgres(url),
            DATABASE_URL=url,
        )
        await run_cli(run.bot.env, "kb", "import", str(DEMO_FAQ))
        result = await play(run, restart_mid_traffic)
    check(run, result)
