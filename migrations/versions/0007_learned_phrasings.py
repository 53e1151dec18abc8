"""learning from use: phrasings learned from citizens' verdicts, the answer margin
measured on those verdicts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "faq_learned",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("citizens", sa.Integer(), nullable=False),
        sa.Column("opposed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["faq_entries.id"],
            name=op.f("fk_faq_learned_entry_id_faq_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_learned")),
        sa.UniqueConstraint("entry_id", "text", name=op.f("uq_faq_learned_entry_id_text")),
    )
    with op.batch_alter_table("faq_learned", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_learned_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_faq_learned_status"), ["status"], unique=False)
    with op.batch_alter_table("kb_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("use_margin", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_versions", schema=None) as batch_op:
        batch_op.drop_column("use_margin")
    with op.batch_alter_table("faq_learned", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_learned_status"))
        batch_op.drop_index(batch_op.f("ix_faq_learned_entry_id"))
    op.drop_table("faq_learned")
