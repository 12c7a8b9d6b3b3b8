"""account security: session generations, who created an account, password-reset links,
confirmed regulator jurisdictions, API tokens with an expiry and a bound role, and the
abuse limits' counters (shared by every worker)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 13:45:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: SQLite cannot drop and recreate user_account while
    # other tables' rows refer to it (foreign keys are enforced).
    op.add_column("user_account", sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("user_account", sa.Column("created_by_id", sa.Integer(), nullable=True))
    op.add_column("user_account", sa.Column("reset_token_hash", sqlmodel.sql.sqltypes.AutoString(length=128)))
    op.add_column("user_account", sa.Column("reset_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index(op.f("ix_user_account_reset_token_hash"), "user_account", ["reset_token_hash"], unique=False)

    op.add_column("api_token", sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column(
        "api_token", sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False, server_default="")
    )
    # A token made before this revision is bound to the role its account has now.
    op.execute(
        "UPDATE api_token SET role = (SELECT platform_role FROM user_account WHERE user_account.id = api_token.user_id)"
    )

    op.create_table(
        "regulator_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["requested_by_id"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "jurisdiction"),
    )
    with op.batch_alter_table("regulator_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regulator_grant_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_regulator_grant_jurisdiction"), ["jurisdiction"], unique=False)

    op.create_table(
        "rate_limit",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("rate_limit")
    with op.batch_alter_table("regulator_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regulator_grant_jurisdiction"))
        batch_op.drop_index(batch_op.f("ix_regulator_grant_user_id"))
    op.drop_table("regulator_grant")
    op.drop_column("api_token", "role")
    op.drop_column("api_token", "expires_at")
    op.drop_index(op.f("ix_user_account_reset_token_hash"), table_name="user_account")
    op.drop_column("user_account", "reset_expires_at")
    op.drop_column("user_account", "reset_token_hash")
    op.drop_column("user_account", "created_by_id")
    op.drop_column("user_account", "session_generation")
