"""search log: whether the citizen came back within 72 hours (came_back), settled once
those hours have passed, in the dashboard's indexes, and a partial index of the questions
still to settle

The column starts NULL everywhere: the web admin settles the old questions when it starts
(`admin.comebacks`), in batches, rather than this migration holding the table for it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME = ["message_id", "decision", "chosen_entry_id", "feedback", "top_entry_id"]
INDEXES = {
    "ix_search_log_created_outcome": ["created_at", "conversation_id"],
    "ix_search_log_conversation_outcome": ["conversation_id", "created_at"],
}
UNSETTLED = sa.text("came_back IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("came_back", sa.Boolean(), nullable=True))
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        for name, leading in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*leading, *OUTCOME, "came_back"], unique=False)
        batch_op.create_index(
            "ix_search_log_unsettled",
            ["created_at"],
            unique=False,
            sqlite_where=UNSETTLED,
            postgresql_where=UNSETTLED,
        )


def downgrade() -> None:
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_search_log_unsettled", sqlite_where=UNSETTLED, postgresql_where=UNSETTLED
        )
        for name, leading in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [*leading, *OUTCOME], unique=False)
        batch_op.drop_column("came_back")
