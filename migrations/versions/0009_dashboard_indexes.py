"""dashboard: indexes for the supervisors' figures over a period — messages by channel,
direction and time; the search log's outcomes by time and by conversation; operator
requests by conversation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOME = ["message_id", "decision", "chosen_entry_id", "feedback"]


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_channel_direction_created",
            ["channel", "direction", "created_at", "conversation_id"],
            unique=False,
        )
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_search_log_created_outcome",
            ["created_at", "conversation_id", *OUTCOME],
            unique=False,
        )
        batch_op.create_index(
            "ix_search_log_conversation_outcome",
            ["conversation_id", "created_at", *OUTCOME],
            unique=False,
        )
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handoff_cases_conversation_requested",
            ["conversation_id", "requested_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_cases_conversation_requested")
    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_index("ix_search_log_conversation_outcome")
        batch_op.drop_index("ix_search_log_created_outcome")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_channel_direction_created")
