"""Initial schema: councils, officers, companies, cases and their facts, events, reminders.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:17:46.259643
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("key", sa.String(length=13), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("fiscal_year_end", sa.Integer(), nullable=False),
        sa.Column("industry", sa.String(length=20), nullable=False),
        sa.Column("capital", sa.BigInteger(), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("legal_form", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("fiscal_year_end between 1 and 12", name=op.f("ck_companies_fye")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_companies")),
    )
    op.create_table(
        "councils",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_councils")),
    )
    op.create_table(
        "kaizen_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_kaizen_meta")),
    )
    op.create_table(
        "officers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("council_code", sa.String(length=8), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role in ('officer','supervisor','admin')", name=op.f("ck_officers_role")
        ),
        sa.ForeignKeyConstraint(
            ["council_code"], ["councils.code"], name=op.f("fk_officers_council_code_councils")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
    )
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_officers_council_code"), ["council_code"], unique=False
        )

    op.create_table(
        "prior_uses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("company_key", sa.String(length=13), nullable=False),
        sa.Column("program", sa.String(length=8), nullable=False),
        sa.Column("track", sa.String(length=16), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_key"], ["companies.key"], name=op.f("fk_prior_uses_company_key_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prior_uses")),
    )
    with op.batch_alter_table("prior_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prior_uses_company_key"), ["company_key"], unique=False
        )

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("program", sa.String(length=8), nullable=False),
        sa.Column("track", sa.String(length=16), nullable=False),
        sa.Column("council_code", sa.String(length=8), nullable=False),
        sa.Column("company_key", sa.String(length=13), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("advisor", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("rule_version", sa.String(length=8), nullable=True),
        sa.Column("affected", sa.String(length=64), nullable=False),
        sa.Column("interim_monitoring", sa.Boolean(), nullable=False),
        sa.Column("guarantee_release", sa.Boolean(), nullable=False),
        sa.Column("reuse_reason", sa.Text(), nullable=True),
        sa.Column("reuse_exception", sa.Boolean(), nullable=False),
        sa.Column("certificate_issued", sa.Date(), nullable=True),
        sa.Column("plan_recorded", sa.Date(), nullable=True),
        sa.Column("lender_receipt", sa.Date(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("agreed_on", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("last_event_on", sa.Date(), nullable=False),
        sa.Column("periods_paid", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_key"], ["companies.key"], name=op.f("fk_cases_company_key_companies")
        ),
        sa.ForeignKeyConstraint(
            ["council_code"], ["councils.code"], name=op.f("fk_cases_council_code_councils")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officers.id"], name=op.f("fk_cases_officer_id_officers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_company_key"), ["company_key"], unique=False)
        batch_op.create_index("ix_cases_council_stage", ["council_code", "stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_officer_id"), ["officer_id"], unique=False)

    op.create_table(
        "costs",
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("estimate", sa.BigInteger(), nullable=True),
        sa.Column("actual", sa.BigInteger(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.CheckConstraint("actual is null or actual >= 0", name=op.f("ck_costs_actual")),
        sa.CheckConstraint("estimate is null or estimate >= 0", name=op.f("ck_costs_estimate")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_costs_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "category", name=op.f("pk_costs")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("from_stage", sa.String(length=24), nullable=True),
        sa.Column("to_stage", sa.String(length=24), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint("kind in ('transition','fact','import')", name=op.f("ck_events_kind")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_events_case_id")),
    )
    op.create_table(
        "lenders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("consented_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_lenders_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lenders")),
        sa.UniqueConstraint("case_id", "name", name=op.f("uq_lenders_case_id")),
    )
    with op.batch_alter_table("lenders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lenders_case_id"), ["case_id"], unique=False)

    op.create_table(
        "milestones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_milestones_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
        sa.UniqueConstraint("case_id", "key", name=op.f("uq_milestones_case_id")),
    )
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_milestones_open_due",
            ["due", "case_id"],
            unique=False,
            sqlite_where=sa.text("done_on is null"),
            postgresql_where=sa.text("done_on is null"),
        )

    op.create_table(
        "monitoring_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_monitoring_reports_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_reports")),
        sa.UniqueConstraint("case_id", "period", name=op.f("uq_monitoring_reports_case_id")),
    )
    with op.batch_alter_table("monitoring_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_reports_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "kind in ('plan_first','plan_second','monitoring')", name=op.f("ck_payments_kind")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payments_amount")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_payments_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_case_id"), ["case_id"], unique=False)

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("milestone_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_reminders_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["milestone_id"], ["milestones.id"], name=op.f("fk_reminders_milestone_id_milestones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint(
            "milestone_id", "kind", "recipient", name=op.f("uq_reminders_milestone_id")
        ),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminders_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reminders_milestone_id"), ["milestone_id"], unique=False
        )
        batch_op.create_index(
            "ix_reminders_pending",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
    if op.get_bind().dialect.name == "postgresql":
        # The event log is append-only (design.md §3); on a shared server the database
        # itself refuses to rewrite history, whoever connects.
        op.execute(
            """
            CREATE FUNCTION kaizen_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'events are append-only (Kaizen): % refused', TG_OP;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION kaizen_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS kaizen_events_append_only()")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_reminders_pending",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_reminders_milestone_id"))
        batch_op.drop_index(batch_op.f("ix_reminders_case_id"))

    op.drop_table("reminders")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_case_id"))

    op.drop_table("payments")
    with op.batch_alter_table("monitoring_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_reports_case_id"))

    op.drop_table("monitoring_reports")
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_milestones_open_due",
            sqlite_where=sa.text("done_on is null"),
            postgresql_where=sa.text("done_on is null"),
        )

    op.drop_table("milestones")
    with op.batch_alter_table("lenders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lenders_case_id"))

    op.drop_table("lenders")
    op.drop_table("events")
    op.drop_table("costs")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_officer_id"))
        batch_op.drop_index("ix_cases_council_stage")
        batch_op.drop_index(batch_op.f("ix_cases_company_key"))

    op.drop_table("cases")
    with op.batch_alter_table("prior_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prior_uses_company_key"))

    op.drop_table("prior_uses")
    with op.batch_alter_table("officers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officers_council_code"))

    op.drop_table("officers")
    op.drop_table("kaizen_meta")
    op.drop_table("councils")
    op.drop_table("companies")
