"""handoff events: the transactional outbox of the operators' queue

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stream_epoch", sa.String(length=36), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_events_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_events")),
    )
    with op.batch_alter_table("handoff_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_events_applied_at"), ["applied_at"], unique=False
        )
        batch_op.create_index(
            "ix_handoff_events_conversation_applied",
            ["conversation_id", "applied_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_events", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_events_conversation_applied")
        batch_op.drop_index(batch_op.f("ix_handoff_events_applied_at"))
    op.drop_table("handoff_events")
