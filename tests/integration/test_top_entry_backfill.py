"""Migration 0010 fills the search log's new top_entry_id from the hits stored before it,
on SQLite and PostgreSQL, and leaves rows without a readable first hit empty."""

from sqlalchemy import text

from core import migrate
from core.db import create_engine

ROWS = [
    # id, hits as stored, the entry expected
    (1, '[{"id": 42, "key": "a", "score": 0.9}, {"id": 7, "key": null, "score": 0.5}]', 42),
    (2, '[{"score": 0.8, "id": 9}]', 9),  # another key order
    (3, "[]", None),
    (4, '[{"id": "x"}]', None),
]


async def test_the_first_hit_is_copied_into_its_column(database_url):
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0009")
        json = "CAST(:hits AS JSON)" if engine.dialect.name == "postgresql" else ":hits"
        async with engine.begin() as connection:
            for row_id, hits, _ in ROWS:
                await connection.execute(
                    text(
                        "INSERT INTO search_log (id, part, query, normalized_query, hits, "
                        f"decision, created_at) VALUES (:id, 0, 'q', 'q', {json}, "
                        "'answer', CURRENT_TIMESTAMP)"
                    ),
                    {"id": row_id, "hits": hits},
                )
        await migrate.upgrade(engine, "0010")
        async with engine.connect() as connection:
            found = dict(
                (await connection.execute(text("SELECT id, top_entry_id FROM search_log"))).all()
            )
        assert found == {row_id: expected for row_id, _, expected in ROWS}
    finally:
        await engine.dispose()
