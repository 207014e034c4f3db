"""Reminders: one per (milestone, kind, recipient) *and due date*.

A milestone that shifts (a stage done late moves every later one) must be reminded again for
its new date; with the due date outside the key, the reminders sent for the old date would
block those for the new one. The old rows stay as the record of what was sent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reminders_milestone_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_reminders_milestone_id", ["milestone_id", "kind", "recipient", "due"]
        )


def downgrade() -> None:
    # Keep the newest reminder of each (milestone, kind, recipient) so the old key holds.
    op.execute(
        "DELETE FROM reminders WHERE id NOT IN ("
        "SELECT max(id) FROM reminders GROUP BY milestone_id, kind, recipient)"
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reminders_milestone_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_reminders_milestone_id", ["milestone_id", "kind", "recipient"]
        )
