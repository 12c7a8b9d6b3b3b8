"""risk register: the children's risk register of an assessment (harm by age group), its cells
with their history, and the register frozen with a submission's decoded record

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 21:45:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("assessed_by", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reviewed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("next_review_due", sa.Date(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("change_note", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("previous_assessment_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["previous_assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assessment_id"),
    )
    op.create_table(
        "risk_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("harm", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("age_group", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["updated_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assessment_id", "harm", "age_group"),
    )
    op.create_index(op.f("ix_risk_cell_assessment_id"), "risk_cell", ["assessment_id"], unique=False)
    op.create_table(
        "risk_cell_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("harm", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("age_group", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("cell_version", sa.Integer(), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["changed_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_risk_cell_history_cell", "risk_cell_history", ["assessment_id", "harm", "age_group", "id"], unique=False
    )
    op.add_column("submission_record", sa.Column("risk_register", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_record") as batch:
        batch.drop_column("risk_register")
    op.drop_index("ix_risk_cell_history_cell", table_name="risk_cell_history")
    op.drop_table("risk_cell_history")
    op.drop_index(op.f("ix_risk_cell_assessment_id"), table_name="risk_cell")
    op.drop_table("risk_cell")
    op.drop_table("risk_register")
