"""submission records: the score card and the answers, each tens of kilobytes, become the last
columns on SQLite, so that reading the narrow columns after them (the benchmark entry, the risk
register) no longer walks the row's overflow pages through both; a company's records are found by
one index on (organisation, cycle), and the index on the latest flag, which half the rows share,
is dropped

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


# Without statistics SQLite takes any index on an equality as equally selective, so which of
# "organisation = ?" and "latest = true" it used to find a company's records depended on the
# order the indexes were created in: by the flag, a company's home page read 20,000 rows.
# One index on (organisation, cycle) is the most selective for every such lookup, whatever
# the order; the flag's index never helped (the reads by it want every latest record).
COMPANY_INDEX = "ix_submission_record_organisation_cycle"


def upgrade() -> None:
    op.drop_index("ix_submission_record_latest", table_name="submission_record")
    op.drop_index("ix_submission_record_organisation_id", table_name="submission_record")
    op.create_index(COMPANY_INDEX, "submission_record", ["organisation_id", "cycle"])
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("submission_record", recreate="always", partial_reordering=[ORDER]):
            pass


def downgrade() -> None:
    """The indexes as they were (the column order is only a matter of speed)."""
    op.drop_index(COMPANY_INDEX, table_name="submission_record")
    op.create_index("ix_submission_record_organisation_id", "submission_record", ["organisation_id"])
    op.create_index("ix_submission_record_latest", "submission_record", ["latest"])
