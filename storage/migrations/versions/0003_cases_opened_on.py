"""Index cases by the date of their first consultation.

Reports filter by 年度 (`--fiscal-year`), which is a range on `cases.opened_on`; without an
index that filter read every case row (about 2 s at 1,000,000 cases, docs/performance.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 16:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_opened_on", "cases", ["opened_on"])


def downgrade() -> None:
    op.drop_index("ix_cases_opened_on", table_name="cases")
