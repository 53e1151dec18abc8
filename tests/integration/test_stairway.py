"""Every migration upgrades, downgrades and upgrades again, on SQLite and PostgreSQL."""

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from core import migrate
from core.db import create_engine
from core.models import Base


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


async def test_stairway(database_url):
    engine = create_engine(database_url)
    try:
        for revision in revisions():
            previous = (await migrate.current_revision(engine)) or "base"
            await migrate.upgrade(engine, revision)
            await migrate.downgrade(engine, previous)
            await migrate.upgrade(engine, revision)
            assert await migrate.current_revision(engine) == revision
    finally:
        await engine.dispose()


async def test_migrations_create_exactly_the_models(database_url):
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables - {"alembic_version"} == set(Base.metadata.tables)
    finally:
        await engine.dispose()
