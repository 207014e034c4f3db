"""Keep the words of an affected cause that is not one of the named ones.

The 2022 flyer's causes are open-ended ("…高騰等"): besides covid, ukraine and oil, an officer
records `other:TEXT` (rules.md §4). `cases.affected` keeps the ids (with `other`); the words
go here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("affected_note", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("affected_note")
