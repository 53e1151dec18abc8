"""operators: handoff cases (assignment, first response, SLA, CSAT), audit log, reply
templates, bans, the author of outbound messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("group_chat_id", sa.String(length=32), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_missed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operator_id", sa.String(length=64), nullable=True),
        sa.Column("operator_name", sa.String(length=256), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reopenings", sa.Integer(), nullable=False),
        sa.Column("csat_score", sa.Integer(), nullable=True),
        sa.Column("csat_comment", sa.Text(), nullable=True),
        sa.Column("csat_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_cases_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_cases")),
    )
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handoff_cases_conversation", ["conversation_id", "ended_at"], unique=False
        )
        batch_op.create_index(
            "ix_handoff_cases_sla", ["first_response_at", "sla_due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_cases_group_chat_id"), ["group_chat_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_cases_operator_id"), ["operator_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handoff_cases_requested_at"), ["requested_at"], unique=False
        )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_name", sa.String(length=256), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_audit_log_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_reply_templates_name")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("banned_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(length=64), nullable=True))
    with op.batch_alter_table("operator_topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_operator_topics_thread", ["group_chat_id", "thread_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("operator_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_operator_topics_thread")
        batch_op.drop_column("closed_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("author")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("banned_by")
        batch_op.drop_column("banned_at")
    op.drop_table("reply_templates")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
    op.drop_table("audit_log")
    with op.batch_alter_table("handoff_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_cases_requested_at"))
        batch_op.drop_index(batch_op.f("ix_handoff_cases_operator_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_cases_group_chat_id"))
        batch_op.drop_index("ix_handoff_cases_sla")
        batch_op.drop_index("ix_handoff_cases_conversation")
    op.drop_table("handoff_cases")
