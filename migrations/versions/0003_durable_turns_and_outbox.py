"""durable turns, inbox leases and statuses, outbox pacing, idempotent appeals and searches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("parts_sent", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64)))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True)))
        batch_op.drop_index("ix_messages_delivery")
        batch_op.create_index(
            "ix_messages_delivery", ["channel", "delivery_status", "chat_id"], unique=False
        )
    # Turns of messages stored before this revision ended one way or another.
    op.execute("UPDATE messages SET handled_at = created_at WHERE direction = 'in'")

    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="pending", nullable=False)
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64)))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True)))
        batch_op.create_index(
            "ix_inbox_updates_channel_status", ["channel", "status"], unique=False
        )
    op.execute("UPDATE inbox_updates SET status = 'done' WHERE processed_at IS NOT NULL")

    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_log_message_id"), ["message_id"], unique=False)

    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64)))
        batch_op.create_unique_constraint(
            batch_op.f("uq_appeals_idempotency_key"), ["idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_appeals_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")

    with op.batch_alter_table("search_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_log_message_id"))

    with op.batch_alter_table("inbox_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_updates_channel_status")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("status")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_delivery")
        batch_op.create_index("ix_messages_delivery", ["channel", "delivery_status"], unique=False)
        batch_op.drop_column("handled_at")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("parts_sent")
