"""Notifications: what an account should know about, shown in the app and, when a mail server is
configured, sent by email.

They are created by the records functions that perform the events, in the same transaction, so a
notification exists exactly when its event does:

- a clarification request (:func:`dd_toolkit.records.review.transition`), to the company's members;
- the company's reply, a new version (:func:`dd_toolkit.records.review.address`), to the regulator
  who asked;
- any other review status change, to the company's members;
- an action falling due within :data:`DUE_SOON_DAYS` days or overdue (:func:`notify_due_actions`,
  run by the company's home page and by ``dd-toolkit notify-due``; no scheduler is needed);
- an invitation accepted (:func:`dd_toolkit.records.accounts.accept_invite`), to whoever created the
  account;
- a section assigned (:func:`dd_toolkit.records.assignments.assign_sections`), to the member given it.

A notification stores a ``kind`` and the ``params`` of its message, never the text: the web layer
translates :data:`MESSAGES` when it shows them. Emails are sent after the transaction commits, only
for an engine given mail settings (:func:`configure_mail`); a failure is logged and never undoes or
breaks the work that caused it.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from dd_toolkit.engine.actions import OPEN_STATUSES
from dd_toolkit.engine.text import N_
from dd_toolkit.records.models import (
    ActionTracking,
    Assessment,
    Membership,
    Notification,
    Organisation,
    PlatformRole,
    Recipient,
    RegulatorGrant,
    ReviewEvent,
    ReviewStatus,
    Submission,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

#: An action is "due soon" this many days before its due date.
DUE_SOON_DAYS = 7
#: How many notifications a list shows.
LIST_LIMIT = 100


class Kind(StrEnum):
    CLARIFICATION_REQUESTED = "clarification_requested"
    CLARIFICATION_ANSWERED = "clarification_answered"
    REVIEW_STATUS = "review_status"
    ACTION_DUE = "action_due"
    ACTION_OVERDUE = "action_overdue"
    INVITATION_ACCEPTED = "invitation_accepted"
    SECTION_ASSIGNED = "section_assigned"
    SECTIONS_ASSIGNED = "sections_assigned"  # several at once: one notification, not one each


#: A short title per kind (an email's subject), and the message, filled in from ``params``.
TITLES: dict[str, str] = {
    Kind.CLARIFICATION_REQUESTED: N_("A regulator asked for clarification"),
    Kind.CLARIFICATION_ANSWERED: N_("A company answered your clarification request"),
    Kind.REVIEW_STATUS: N_("The review status of a submission changed"),
    Kind.ACTION_DUE: N_("An action is due soon"),
    Kind.ACTION_OVERDUE: N_("An action is overdue"),
    Kind.INVITATION_ACCEPTED: N_("An invitation was accepted"),
    Kind.SECTION_ASSIGNED: N_("A section was assigned to you"),
    Kind.SECTIONS_ASSIGNED: N_("Sections were assigned to you"),
}
MESSAGES: dict[str, str] = {
    Kind.CLARIFICATION_REQUESTED: N_(
        "The regulator of %(jurisdiction)s asked for clarification on your %(cycle)s assessment"
        " (version %(version)s). Answer with a new version."
    ),
    Kind.CLARIFICATION_ANSWERED: N_(
        "%(organisation)s answered your clarification request with version %(version)s of its %(cycle)s assessment."
    ),
    Kind.REVIEW_STATUS: N_(
        "The regulator of %(jurisdiction)s moved the review of your %(cycle)s assessment"
        " (version %(version)s) to “%(status)s”."
    ),
    Kind.ACTION_DUE: N_("The action “%(title)s” is due on %(due)s."),
    Kind.ACTION_OVERDUE: N_("The action “%(title)s” was due on %(due)s and is still open."),
    Kind.INVITATION_ACCEPTED: N_("%(name)s (%(email)s) accepted your invitation and can now sign in."),
    Kind.SECTION_ASSIGNED: N_("%(by)s asked you to answer the section “%(section)s” of the %(cycle)s assessment."),
    Kind.SECTIONS_ASSIGNED: N_("%(by)s asked you to answer these sections of the %(cycle)s assessment: %(sections)s."),
}

# The pages a notification links to (the web layer maps each to its route).
ENTITY_ASSESSMENT = "assessment"
ENTITY_ACTION_PLAN = "action_plan"
# A section of an assessment: ``entity_id`` is the assessment, the ``section`` parameter the section.
ENTITY_SECTION = "section"
ENTITY_RECIPIENT = "recipient"
ENTITY_MEMBERS = "members"
ENTITY_ACCOUNTS = "accounts"
ENTITY_CONFIRMATIONS = "confirmations"

_OUTBOX = "dd_notification_outbox"


# -- creating -------------------------------------------------------------------------------------


def notify(
    db: Session,
    user_ids: Iterable[int | None],
    kind: Kind,
    params: dict[str, Any],
    *,
    entity: str = "",
    entity_id: int | None = None,
    dedupe_key: str | None = None,
    exclude: int | None = None,
) -> list[Notification]:
    """Notify each active account of ``user_ids`` (but ``exclude``, who caused the event); the
    caller commits, and the emails go out once it has."""
    wanted = {uid for uid in user_ids if uid is not None and uid != exclude}
    if not wanted:
        return []
    users = db.exec(select(User).where(User.id.in_(wanted), User.active == sa.true()).order_by(User.id)).all()
    db.info[_CHANGED] = True
    created = []
    for user in users:
        row = Notification(
            user_id=user.id,
            kind=kind,
            params=dict(params),
            entity=entity,
            entity_id=entity_id,
            dedupe_key=dedupe_key,
        )
        db.add(row)
        created.append(row)
        db.info.setdefault(_OUTBOX, []).append(
            {
                "email": user.email,
                "name": user.name,
                "language": user.locale,
                "kind": str(kind),
                "params": dict(params),
                "entity": entity,
                "entity_id": entity_id,
            }
        )
    return created


def member_ids(db: Session, organisation_id: int) -> list[int]:
    """The accounts of an organisation's members."""
    return list(db.exec(select(Membership.user_id).where(Membership.organisation_id == organisation_id)))


# A later copy of an action, carried forward from it. Made once: SQLAlchemy memoises the columns
# of an alias on the alias itself, so a new alias per query costs milliseconds.
_NEWER_COPY = aliased(ActionTracking)


def _due_query(of_one_organisation: bool):
    carried = sa.exists().where(_NEWER_COPY.carried_from_id == ActionTracking.id)
    query = (
        select(ActionTracking, Assessment.organisation_id)
        .join(Assessment, Assessment.id == ActionTracking.assessment_id)
        .where(
            ActionTracking.status.in_([str(s) for s in OPEN_STATUSES]),
            ActionTracking.due_date.is_not(None),
            ActionTracking.due_date <= sa.bindparam("until", type_=sa.Date),
            ~carried,
        )
        .order_by(ActionTracking.due_date, ActionTracking.id)
    )
    if of_one_organisation:
        query = query.where(Assessment.organisation_id == sa.bindparam("organisation_id"))
    return query


# Built once (a company's home page runs one on every visit): building a statement and its cache
# key costs more than running it.
_DUE_EVERYWHERE, _DUE_IN_ORGANISATION = _due_query(False), _due_query(True)


def due_actions(
    db: Session, organisation_id: int | None = None, *, today: dt.date | None = None, days: int = DUE_SOON_DAYS
) -> list[tuple[ActionTracking, int]]:
    """Open actions due within ``days`` days or overdue, soonest first, each with its
    organisation. Only an action's newest copy counts: one carried forward to a later assessment
    is counted there."""
    today = today or dt.date.today()
    params: dict[str, object] = {"until": today + dt.timedelta(days=days)}
    if organisation_id is None:
        query = _DUE_EVERYWHERE
    else:
        query, params["organisation_id"] = _DUE_IN_ORGANISATION, organisation_id
    return [(row, org_id) for row, org_id in db.exec(query, params=params).all()]


def notify_due_actions(
    db: Session,
    *,
    organisation_id: int | None = None,
    today: dt.date | None = None,
    days: int = DUE_SOON_DAYS,
    due: list[tuple[ActionTracking, int]] | None = None,
) -> int:
    """Remind the members of an organisation (or of every one) of the open actions due within
    ``days`` days or overdue. Each reminder is created once per account, action, due date and state
    (due soon, then overdue), however often this runs. Only an action's newest copy counts: an item
    carried forward to a later assessment is reminded there. Returns how many were created.

    ``due`` is what :func:`due_actions` gave for the same arguments, when the caller has read it."""
    today = today or dt.date.today()
    rows = due if due is not None else due_actions(db, organisation_id, today=today, days=days)
    if not rows:
        return 0
    members: dict[int, list[int]] = {}
    for _row, org_id in rows:
        if org_id not in members:
            members[org_id] = member_ids(db, org_id)
    keys = {}
    for row, org_id in rows:
        overdue = row.due_date < today
        key = f"action:{row.id}:{row.due_date.isoformat()}:{'overdue' if overdue else 'due'}"
        keys[key] = (row, org_id, overdue)
    existing = set(
        db.exec(
            select(Notification.user_id, Notification.dedupe_key).where(Notification.dedupe_key.in_(list(keys)))
        ).all()
    )
    created = 0
    for key, (row, org_id, overdue) in keys.items():
        users = [uid for uid in members[org_id] if (uid, key) not in existing]
        created += len(
            notify(
                db,
                users,
                Kind.ACTION_OVERDUE if overdue else Kind.ACTION_DUE,
                {"title": row.title or row.item_id, "due": row.due_date.isoformat()},
                entity=ENTITY_ACTION_PLAN,
                entity_id=row.assessment_id,
                dedupe_key=key,
            )
        )
    if not created:
        return 0
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # another request created the same reminders first: they exist once
        return 0
    return created


# -- the events ----------------------------------------------------------------------------------


def review_status_changed(db: Session, recipient: Recipient, assessment: Assessment, to_status: str, by: User) -> None:
    """A regulator moved a review: the company's members hear of it (a clarification request as
    such). The caller commits."""
    kind = Kind.CLARIFICATION_REQUESTED if to_status == ReviewStatus.CLARIFICATION_REQUESTED else Kind.REVIEW_STATUS
    params = {
        "jurisdiction": recipient.jurisdiction,
        "cycle": assessment.cycle,
        "version": assessment.version,
        "status": str(to_status),
    }
    notify(
        db,
        member_ids(db, assessment.organisation_id),
        kind,
        params,
        entity=ENTITY_ASSESSMENT,
        entity_id=assessment.id,
        exclude=by.id if by else None,
    )


def clarification_answered(db: Session, earlier: Recipient, reply: Recipient, submission: Submission) -> None:
    """A new version answers the clarification request open on ``earlier``: the regulator who
    asked hears of it, with a link to the new version. The caller commits."""
    asked_by = db.exec(
        select(ReviewEvent.user_id)
        .where(
            ReviewEvent.recipient_id == earlier.id,
            ReviewEvent.kind == "status",
            ReviewEvent.to_status == ReviewStatus.CLARIFICATION_REQUESTED,
        )
        .order_by(ReviewEvent.id.desc())
    ).first()
    if asked_by is None:
        return
    assessment = db.get(Assessment, submission.assessment_id)
    org = db.get(Organisation, assessment.organisation_id)
    params = {"organisation": org.name, "cycle": assessment.cycle, "version": assessment.version}
    notify(db, [asked_by], Kind.CLARIFICATION_ANSWERED, params, entity=ENTITY_RECIPIENT, entity_id=reply.id)


def invitation_accepted(db: Session, user: User) -> None:
    """``user`` accepted an invitation: whoever invited them hears of it (the creator of the
    account; for a regulator, also whoever confirmed a jurisdiction and so issued the link).
    Commits."""
    params = {"name": user.name, "email": user.email}
    member = db.exec(select(Membership).where(Membership.user_id == user.id)).first()
    if member is not None:
        notify(db, [user.created_by_id], Kind.INVITATION_ACCEPTED, params, entity=ENTITY_MEMBERS)
    else:
        notify(db, [user.created_by_id], Kind.INVITATION_ACCEPTED, params, entity=ENTITY_ACCOUNTS)
        if user.platform_role == PlatformRole.REGULATOR:
            confirmers = db.exec(
                select(RegulatorGrant.confirmed_by_id).where(
                    RegulatorGrant.user_id == user.id, RegulatorGrant.confirmed_via == "regulator"
                )
            ).all()
            notify(
                db,
                [uid for uid in confirmers if uid != user.created_by_id],
                Kind.INVITATION_ACCEPTED,
                params,
                entity=ENTITY_CONFIRMATIONS,
            )
    db.commit()


# -- reading and marking -------------------------------------------------------------------------


def _unread_of(user_id) -> sa.Select:
    return (
        select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )


# Built once: every signed-in page shows the count (building a statement costs more than running it).
_UNREAD = _unread_of(sa.bindparam("user_id"))
# The same count as a column of a query that reads the account (``User.id``): the web layer
# reads it with the signed-in account, in the same query.
UNREAD_OF_USER = _unread_of(User.id).scalar_subquery()
# Set in a session that created or marked notifications: a count read before is out of date.
_CHANGED = "dd_notifications_changed"


def unread_count(db: Session, user_id: int) -> int:
    return db.exec(_UNREAD, params={"user_id": user_id}).one()


def changed_in(db: Session) -> bool:
    """Whether this session created or marked any notification (see UNREAD_OF_USER)."""
    return db.info.get(_CHANGED, False)


def of_user(db: Session, user_id: int, limit: int = LIST_LIMIT) -> list[Notification]:
    """A user's notifications, newest first."""
    return list(
        db.exec(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
        )
    )


def mark_read(db: Session, notification: Notification) -> None:
    if notification.read_at is None:
        db.info[_CHANGED] = True
        notification.read_at = utcnow()
        db.add(notification)
        db.commit()


def mark_all_read(db: Session, user_id: int) -> int:
    db.info[_CHANGED] = True
    result = db.execute(
        sa.update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.commit()
    return result.rowcount


# -- email ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send notification emails. ``compose`` turns an outbox item (the account's
    email and name, the kind, its params and the page it links to) into a subject and a body."""

    server: str
    port: int = 25
    sender: str = "dd-toolkit@localhost"
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    timeout: float = 10.0
    compose: Callable[[dict[str, Any]], tuple[str, str]] | None = None


_MAIL: weakref.WeakKeyDictionary[Engine, MailSettings] = weakref.WeakKeyDictionary()


def configure_mail(engine: Engine, settings: MailSettings | None) -> None:
    """Send notification emails for sessions on ``engine`` (None: do not)."""
    if settings is None:
        _MAIL.pop(engine, None)
    else:
        _MAIL[engine] = settings


def _plain(item: dict[str, Any]) -> tuple[str, str]:
    params = item["params"]
    return TITLES[item["kind"]], MESSAGES[item["kind"]] % params


def deliver(settings: MailSettings, items: list[dict[str, Any]]) -> int:
    """Send one email per outbox item over one SMTP connection; returns how many were sent. A
    failure is logged, never raised: the event that caused it has already happened."""
    sent = 0
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout) as smtp:
            if settings.use_tls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            for item in items:
                try:
                    subject, body = (settings.compose or _plain)(item)
                    message = EmailMessage()
                    message["From"] = settings.sender
                    message["To"] = item["email"]
                    message["Subject"] = subject
                    message.set_content(body)
                    smtp.send_message(message)
                    sent += 1
                except Exception:  # one bad message (a refused address, a template error) stops no other
                    log.exception("could not send a %s notification email", item.get("kind"))
    except Exception:  # the server is down or refuses us: the app carries on, the log says why
        log.exception("could not send notification emails through %s:%s", settings.server, settings.port)
    return sent


@event.listens_for(OrmSession, "after_commit")
def _send_after_commit(session: OrmSession) -> None:
    items = session.info.pop(_OUTBOX, None)
    if not items:
        return
    settings = _MAIL.get(session.bind) if session.bind is not None else None
    if settings is not None:
        deliver(settings, items)


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop_after_rollback(session: OrmSession, _previous) -> None:
    session.info.pop(_OUTBOX, None)  # rolled back: the notifications were never made
