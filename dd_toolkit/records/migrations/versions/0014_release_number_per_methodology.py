"""release numbers per methodology: each methodology numbers its own releases from 1, so the
unique key is (methodology, number) rather than the number alone

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 07:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# SQLite keeps the old constraint without a name: batch mode names it by this convention to drop it.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_on(columns: list[str]) -> str:
    for found in sa.inspect(op.get_bind()).get_unique_constraints("release"):
        if found["column_names"] == columns:
            return found["name"] or NAMING["uq"] % {"table_name": "release", "column_0_name": columns[0]}
    raise RuntimeError(f"release has no unique constraint on {columns}")


def upgrade() -> None:
    old = _unique_on(["number"])
    with op.batch_alter_table("release", naming_convention=NAMING) as batch:
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint("uq_release_methodology_number", ["methodology", "number"])


def downgrade() -> None:
    with op.batch_alter_table("release", naming_convention=NAMING) as batch:
        batch.drop_constraint("uq_release_methodology_number", type_="unique")
        batch.create_unique_constraint("uq_release_number", ["number"])
