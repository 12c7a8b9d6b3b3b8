"""submission records: the score card and the answers, each tens of kilobytes, become the last
columns on SQLite, so that reading the narrow columns after them (the benchmark entry, the risk
register) no longer walks the row's overflow pages through both

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 13:30:00.000000
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# SQLite keeps a row's columns in the table's order and spills a long row onto a chain of
# overflow pages, followed page by page to reach a column: a column after 80 KB of JSON costs
# about twenty page reads. Reading every release's contributions read 20,000 such rows.
# PostgreSQL keeps long values out of line (TOAST), so there the order changes nothing.
ORDER = (
    "id",
    "submission_id",
    "organisation_id",
    "cycle",
    "version",
    "methodology",
    "benchmark_consent",
    "latest",
    "intact",
    "submitted_at",
    "organisation_name",
    "hq_country",
    "countries",
    "service_types",
    "features",
    "size_band",
    "under18_users",
    "age_groups",
    "overall",
    "band",
    "benchmark_entry",
    "risk_register",
    "score_card",
    "answers",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("submission_record", recreate="always", partial_reordering=[ORDER]):
        pass


def downgrade() -> None:
    """The order is only a matter of speed: nothing to undo."""
