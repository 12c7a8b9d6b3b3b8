"""Data revisions: how a page knows, without reading what it shows, that nothing it shows changed.

- Every organisation has a ``revision``. The database raises it, in the same transaction, with
  every insert, update or delete of a row that belongs to the organisation: its own row, its
  memberships, assessments, answers, submissions and their records, actions, transparency edits,
  risk registers, the regulators' recipients and review steps of its submissions, its audit
  events, and its members' accounts, notifications, tokens and grants.
- One shared revision (``shared_revision``) is raised with every write to the stored aggregates,
  the working group's releases and the verification runs: the figures no organisation owns. A
  submission record raises it too (it adds a cycle to the regulators' reports), a recipient (its
  status shows in the regulators' inboxes), and an account of no organisation (a regulator is
  named on the review pages of the companies).

Triggers raise them (migration 0017), not the application, so that no write path can miss one:
the ORM's flushes, Core statements, the command line and a restore alike. On PostgreSQL the
triggers run at commit, so a revision is never visible before the data it stands for.

A migration that adds a table gives it its triggers, or lists it here as untracked with the
reason; one that rebuilds a table on SQLite (batch mode) creates its triggers again. The tests
check that every table is one or the other.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from dd_toolkit.records.models import Assessment, Organisation, Recipient, SharedRevision, Submission

# Tables whose writes change nothing any page shows, so they raise no revision.
UNTRACKED = {
    "alembic_version": "the schema's own version",
    "rate_limit": "the abuse limits' counters, written by sign-in attempts and never shown",
    "audit_chain_head": "the end of the audit chain, raised with every audit event, which raises its own",
    "shared_revision": "the shared revision itself",
}

# The shared revision, as a column any query can read in passing (the account's query does).
SHARED = sa.select(SharedRevision.revision).where(SharedRevision.id == 1).scalar_subquery()

_OF_RECIPIENT = (
    sa.select(Organisation.id, Organisation.revision)
    .join(Assessment, Assessment.organisation_id == Organisation.id)
    .join(Submission, Submission.assessment_id == Assessment.id)
    .join(Recipient, Recipient.submission_id == Submission.id)
    .where(Recipient.id == sa.bindparam("recipient_id"))
)


def of_recipient(db: Session, recipient_id: int) -> tuple[int, int] | None:
    """The organisation a regulator's review is of, with its revision (None: no such review)."""
    row = db.connection().execute(_OF_RECIPIENT, {"recipient_id": recipient_id}).first()
    return None if row is None else (row[0], row[1])
