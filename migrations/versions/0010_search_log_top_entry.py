"""search log: the first hit's entry in a column of its own (top_entry_id), filled in from
the stored hits, and in the dashboard's indexes, so that topics are counted without
reading JSON

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME = ["message_id", "decision", "chosen_entry_id", "feedback"]
INDEXES = {
    "ix_search_log_created_outcome": ["created_at", "conversation_id"],
    "ix_search_log_conversation_outcome": ["conversation_id", "created_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("top_entry_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE search_log SET top_entry_id = (hits->0->>'id')::integer "
            "WHERE json_typeof(hits) = 'array' AND (hits->0->>'id') ~ '^[0-9]{1,9}$'"
        )
    else:
        op.execute(
            "UPDATE search_log SET top_entry_id = json_extract(hits, '$[0].id') "
            "WHERE json_valid(hits) AND json_type(hits, '$[0].id') = 'integer'"
        )
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        for name, leading in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*leading, *OUTCOME, "top_entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        for name, leading in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*leading, *OUTCOME], unique=False)
        batch_op.drop_column("top_entry_id")
