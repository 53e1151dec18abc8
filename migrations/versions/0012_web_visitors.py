"""web widget: its visitors (the id their signed token names) and when each accepted the
personal-data notice

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_visitors",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_url", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_visitors")),
    )


def downgrade() -> None:
    op.drop_table("web_visitors")
