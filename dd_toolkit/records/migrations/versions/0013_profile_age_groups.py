"""profile age groups: the age groups a service is used by or allows, on the organisation and
on a submission's decoded record

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 01:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL until a profile gives them: read as "not given", as an empty list is.
    op.add_column("organisation", sa.Column("age_groups", sa.JSON(), nullable=True))
    op.add_column("submission_record", sa.Column("age_groups", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submission_record") as batch:
        batch.drop_column("age_groups")
    with op.batch_alter_table("organisation") as batch:
        batch.drop_column("age_groups")
