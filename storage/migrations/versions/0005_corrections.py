"""Corrections (issue 12): a `correction` event kind, payment reversals, company changes.

- `events.kind` also allows `correction`: a fix is an event (voiding a fact, reverting a stage
  change, editing a case), so the log stays append-only.
- `payments.reversal`: a reverted payment is undone by a row of the same kind with a negative
  amount (never a deletion): sums by kind stay right, and the reversal shows as what it is.
- `company_changes`: one row per changed company field (old → new, who, when, why); a company
  belongs to no single case or council, so its corrections are recorded with it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind in ('transition','fact','import')"
NEW_KINDS = "kind in ('transition','fact','import','correction')"
OLD_AMOUNT = "amount >= 0"
NEW_AMOUNT = "(reversal and amount <= 0) or (not reversal and amount >= 0)"


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint("kind", NEW_KINDS)
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("reversal", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.drop_constraint(op.f("ck_payments_amount"), type_="check")
        batch.create_check_constraint("amount", NEW_AMOUNT)
    op.create_table(
        "company_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company_key", sa.String(length=13), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_key"],
            ["companies.key"],
            name=op.f("fk_company_changes_company_key_companies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_changes")),
    )
    op.create_index(
        op.f("ix_company_changes_company_key"), "company_changes", ["company_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_company_changes_company_key"), table_name="company_changes")
    op.drop_table("company_changes")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_amount"), type_="check")
        batch.create_check_constraint("amount", OLD_AMOUNT)
        batch.drop_column("reversal")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("ck_events_kind"), type_="check")
        batch.create_check_constraint("kind", OLD_KINDS)
