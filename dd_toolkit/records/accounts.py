"""Accounts, organisations and invitations, shared by the web pages, the CLI and the demo.

Also the account security rules:

- **Passwords** (NIST SP 800-63B): at least 12 characters, not in the list of common and
  breached passwords that the ``zxcvbn`` package ships, and not easily guessed (repeats,
  sequences, dictionary words, the person's own name or email, as ``zxcvbn`` estimates). No
  composition rules.
- **Sessions**: every session and remember-me cookie carries the account's session
  generation (:meth:`User.get_id`); signing out, changing or resetting the password and
  deactivation bump it, which ends them all.
- **Separation of duties** for regulators: a jurisdiction on a regulator account is a
  :class:`RegulatorGrant` that takes effect only when someone other than its requester
  confirms it: an active regulator of that jurisdiction, or the operator on the command line
  (``dd-toolkit confirm-regulator``) for a jurisdiction's first regulator. The invitation link
  of a new regulator account is issued at that confirmation, to the confirmer, never to the
  account's creator, and an invitation refuses its creator's session.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from dd_toolkit.engine.text import N_, Message
from dd_toolkit.records import notifications
from dd_toolkit.records.assignments import release_member
from dd_toolkit.records.audit import record
from dd_toolkit.records.models import (
    ApiToken,
    Membership,
    Organisation,
    OrgRole,
    PlatformRole,
    RegulatorGrant,
    User,
    utcnow,
)

_hasher = PasswordHasher()

MIN_PASSWORD = 12
MAX_PASSWORD = 200
INVITE_VALID_DAYS = 14
RESET_VALID_MINUTES = 60


class AccountError(Exception):
    """An account operation cannot be done; the message (a :class:`~dd_toolkit.engine.text.Message`,
    English as ``str``) is shown to the user, translated by the web."""


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.casefold() for word in FREQUENCY_LISTS["passwords"])


def password_problem(password: str, context: Iterable[str | None] = ()) -> Message | None:
    """Why ``password`` may not be used, or None. ``context`` holds the person's own words (name,
    email, organisation), which make a password easy to guess."""
    if len(password) < MIN_PASSWORD:
        return Message(N_("Use at least %(minimum)s characters."), minimum=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return Message(N_("Use at most %(maximum)s characters."), maximum=MAX_PASSWORD)
    if password.casefold() in _common_passwords():
        return Message(N_("This password is on a list of common and breached passwords. Choose another one."))
    from zxcvbn import zxcvbn

    words = []
    for item in context:
        if item:
            parts = [part for part in item.replace("@", " ").replace(".", " ").split() if len(part) > 2]
            words.extend([*parts, "".join(parts)])
    # zxcvbn takes at most 72 characters; a longer password is judged by its start.
    if zxcvbn(password[:72], user_inputs=words)["score"] < 3:
        return Message(
            N_(
                "This password is too easy to guess: it repeats or follows a sequence, is a common word or name, "
                "or uses your own name or email. A passphrase of several unrelated words is easy to remember."
            )
        )
    return None


def check_password(password: str, context: Iterable[str | None] = ()) -> None:
    problem = password_problem(password, context)
    if problem:
        raise AccountError(problem)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(db: Session, email: str) -> User | None:
    return db.exec(select(User).where(User.email == normalise_email(email))).first()


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = find_user(db, email)
    if user is None:
        # Spend the same time as a real check so response times do not reveal accounts.
        _hasher.hash(password)
        return None
    if not user.active or not verify_password(user, password):
        return None
    user.last_login_at = utcnow()
    db.add(user)
    db.commit()
    return user


def create_user(
    db: Session,
    *,
    email: str,
    name: str,
    password: str | None = None,
    platform_role: PlatformRole = PlatformRole.NONE,
    jurisdictions: list[str] | None = None,
    created_by: User | None = None,
) -> User:
    """A new account. A regulator's ``jurisdictions`` are only requested here: each takes effect
    when confirmed (:func:`confirm_grant`, :func:`confirm_by_operator`)."""
    email = normalise_email(email)
    if find_user(db, email) is not None:
        raise AccountError(Message(N_("An account with the email %(email)s already exists."), email=email))
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password) if password else None,
        platform_role=platform_role,
        jurisdictions=[],
        created_by_id=created_by.id if created_by else None,
    )
    db.add(user)
    db.flush()
    if platform_role == PlatformRole.REGULATOR:
        for code in jurisdictions or []:
            _request_grant(db, user, code, created_by)
    return user


def register_organisation(
    db: Session, *, organisation_name: str, name: str, email: str, password: str
) -> tuple[Organisation, User]:
    """A new organisation and its first admin, in one transaction."""
    try:
        user = create_user(db, email=email, name=name, password=password)
        org = Organisation(name=organisation_name.strip())
        db.add(org)
        db.flush()
        db.add(Membership(user_id=user.id, organisation_id=org.id, role=OrgRole.ADMIN))
        record(
            db,
            user=user,
            organisation_id=org.id,
            action="organisation.register",
            entity="organisation",
            entity_id=org.id,
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return org, user


def note_duplicate_registration(db: Session, email: str, password: str) -> None:
    """Registration with an email that has an account: answered like a new registration (so it
    reveals nothing), taking as long, and audited. The toolkit sends no email, so the owner is
    not told."""
    _hasher.hash(password)  # the time a new account's hash takes
    user = find_user(db, email)
    record(
        db,
        user=None,
        organisation_id=None,
        action="account.register_existing_email",
        entity="user",
        entity_id=user.id if user else None,
        detail={},
    )
    db.commit()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _with_invitation(user: User, valid_days: int) -> str:
    """Give a new account a one-time invitation token; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    user.invite_token_hash = _token_hash(token)
    user.invite_expires_at = utcnow() + timedelta(days=valid_days)
    return token


def invite_platform_user(
    db: Session,
    *,
    email: str,
    name: str,
    role: PlatformRole,
    jurisdictions: list[str],
    invited_by: User | None,
    valid_days: int = 14,
) -> tuple[User, str]:
    """A regulator or working-group account, created by a platform admin. A working-group account
    comes with its invitation token. A regulator account comes with none: its jurisdictions await
    confirmation, and the invitation is issued to whoever confirms the first one."""
    if role == PlatformRole.REGULATOR and not jurisdictions:
        raise AccountError(Message(N_("A regulator account needs at least one jurisdiction.")))
    try:
        user = create_user(
            db,
            email=email,
            name=name,
            platform_role=role,
            jurisdictions=jurisdictions if role == PlatformRole.REGULATOR else [],
            created_by=invited_by,
        )
        token = None if role == PlatformRole.REGULATOR else _with_invitation(user, valid_days)
        db.add(user)
        record(
            db,
            user=invited_by,
            organisation_id=None,
            action="account.invite",
            entity="user",
            entity_id=user.id,
            detail={
                "email": user.email,
                "role": role,
                "jurisdictions": jurisdictions,
                "awaiting_confirmation": role == PlatformRole.REGULATOR,
            },
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return user, token


def invite_member(
    db: Session,
    org: Organisation,
    *,
    email: str,
    name: str,
    role: OrgRole,
    invited_by: User | None,
    valid_days: int = 14,
) -> tuple[User, str]:
    """Create the member's account and return a one-time token for their invitation link. The
    account of someone removed from every organisation (deactivated, no role anywhere) is taken
    up again: its old password is cleared and it joins through the new link."""
    try:
        user = _reusable_account(db, email)
        reused = user is not None
        if user is None:
            user = create_user(db, email=email, name=name, created_by=invited_by)
        else:
            user.name, user.active, user.password_hash = name.strip(), True, None
            user.created_by_id = invited_by.id if invited_by else None
            user.session_generation += 1
        token = _with_invitation(user, valid_days)
        db.add(user)
        db.add(Membership(user_id=user.id, organisation_id=org.id, role=role))
        record(
            db,
            user=invited_by,
            organisation_id=org.id,
            action="member.invite",
            entity="user",
            entity_id=user.id,
            detail={"email": user.email, "role": role, **({"reused_account": True} if reused else {})},
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return user, token


def _reusable_account(db: Session, email: str) -> User | None:
    """A deactivated company account that belongs to no organisation (a removed member)."""
    user = find_user(db, email)
    if user is None or user.active or user.platform_role != PlatformRole.NONE:
        return None
    if db.exec(select(Membership).where(Membership.user_id == user.id)).first() is not None:
        return None
    return user


def _user_for_link(db: Session, token: str, hash_column, expires_column) -> User | None:
    """The active account whose one-time link (its token's hash in ``hash_column``) has not
    passed ``expires_column``; None for an unknown, used or expired link."""
    user = db.exec(select(User).where(hash_column == _token_hash(token))).first()
    expires_at = getattr(user, expires_column.key) if user is not None else None
    if expires_at is None or not user.active:
        return None
    return user if _aware(expires_at) > utcnow() else None


def user_for_invite(db: Session, token: str) -> User | None:
    """The account of a live invitation: unused, unexpired, and the account still active."""
    return _user_for_link(db, token, User.invite_token_hash, User.invite_expires_at)


def invitation_expired(user: User) -> bool:
    """Whether the account's invitation link has passed its expiry (it may still be renewed)."""
    return user.invite_expires_at is not None and _aware(user.invite_expires_at) <= utcnow()


def _aware(at: datetime) -> datetime:
    """Datetimes read back from SQLite have no offset; they are UTC."""
    return at if at.utcoffset() is not None else at.replace(tzinfo=UTC)


def refuse_creator(db: Session, user: User, signed_in: User | None) -> None:
    """Whoever created an account may never complete its invitation: their session is refused
    and the refusal audited."""
    if signed_in is not None and user.created_by_id is not None and signed_in.id == user.created_by_id:
        record(
            db,
            user=signed_in,
            organisation_id=None,
            action="account.invite_refused",
            entity="user",
            entity_id=user.id,
            detail={"reason": "the account's creator may not complete its invitation"},
        )
        db.commit()
        raise AccountError(Message(N_("You created this account, so you cannot complete its invitation.")))


def accept_invite(db: Session, user: User, password: str, *, signed_in: User | None = None) -> None:
    """Set the invited account's password; the link is used up (and expires unused)."""
    refuse_creator(db, user, signed_in)
    _set_password(db, user, password, "member.accept_invite", invite_token_hash=None, invite_expires_at=None)
    notifications.invitation_accepted(db, user)  # to whoever invited them


# -- password reset ----------------------------------------------------------------------------


def issue_reset(
    db: Session,
    user: User,
    *,
    by: User | None = None,
    valid_minutes: int = RESET_VALID_MINUTES,
    organisation_id: int | None = None,
) -> str:
    """A one-time password-reset token for ``user`` (the operator's ``reset-password``, an
    organisation admin for a member, the platform admin for a working-group account); only its
    hash is kept, and a newer one replaces it."""
    if not user.active:
        raise AccountError(Message(N_("The account is deactivated.")))
    token = secrets.token_urlsafe(32)
    user.reset_token_hash = _token_hash(token)
    user.reset_expires_at = utcnow() + timedelta(minutes=valid_minutes)
    db.add(user)
    record(
        db,
        user=by,
        organisation_id=organisation_id,
        action="account.reset_issued",
        entity="user",
        entity_id=user.id,
        detail={"valid_minutes": valid_minutes, "email": user.email},
    )
    db.commit()
    return token


def user_for_reset(db: Session, token: str) -> User | None:
    """The account of a live password-reset link: unused, unexpired, and the account active."""
    return _user_for_link(db, token, User.reset_token_hash, User.reset_expires_at)


def complete_reset(db: Session, user: User, password: str) -> None:
    """Set a new password through a reset link; the link is used up and every session ends."""
    _set_password(db, user, password, "account.password_reset", reset_token_hash=None, reset_expires_at=None)


# -- sessions ----------------------------------------------------------------------------------


def new_session_nonce() -> str:
    return secrets.token_urlsafe(12)


def parse_session_id(value: str) -> tuple[int, int, str] | None:
    """The account id, session generation and nonce of a session id (:meth:`User.get_id`)."""
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(value) > 100:
        return None
    return int(parts[0]), int(parts[1]), parts[2]


def session_is_current(user: User | None, generation: int) -> bool:
    return user is not None and user.active and user.session_generation == generation


def end_sessions(db: Session, user: User, *, by: User | None, reason: str) -> None:
    """End every session and remember-me cookie of ``user``."""
    user.session_generation += 1
    db.add(user)
    record(
        db,
        user=by,
        organisation_id=None,
        action="account.sessions_ended",
        entity="user",
        entity_id=user.id,
        detail={"reason": reason},
    )
    db.commit()


def change_password(db: Session, user: User, current: str, new: str) -> None:
    if not verify_password(user, current):
        raise AccountError(Message(N_("The current password is not right.")))
    _set_password(db, user, new, "account.password_change")


def set_language(db: Session, user: User, language: str) -> None:
    """The account's interface language, kept for its next sign-in on any device."""
    if user.locale == language:
        return
    user.locale = language
    db.add(user)
    db.commit()


def _set_password(db: Session, user: User, password: str, action: str, **used_up: None) -> None:
    """A new password under the policy; every session of the account ends with it. ``used_up``
    names the link fields to clear, only once the password is accepted."""
    check_password(password, (user.email, user.name))
    for name, value in used_up.items():
        setattr(user, name, value)
    user.password_hash = hash_password(password)
    user.session_generation += 1
    db.add(user)
    record(db, user=user, organisation_id=None, action=action, entity="user", entity_id=user.id)
    db.commit()


def deactivate(db: Session, user: User, *, by: User | None) -> int:
    """Deactivate an account: its sessions end, its links stop working and its API tokens are
    revoked. Returns how many tokens were revoked."""
    tokens = list(db.exec(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked == False)))  # noqa: E712
    for token in tokens:
        token.revoked = True
        db.add(token)
    user.active = False
    user.session_generation += 1
    user.invite_token_hash = user.invite_expires_at = None
    user.reset_token_hash = user.reset_expires_at = None
    db.add(user)
    record(
        db,
        user=by,
        organisation_id=None,
        action="account.deactivate",
        entity="user",
        entity_id=user.id,
        detail={"email": user.email, "revoked_tokens": [t.id for t in tokens]},
    )
    db.commit()
    return len(tokens)


def reactivate(db: Session, user: User, *, by: User | None) -> None:
    """Let a deactivated account sign in again (revoked tokens stay revoked)."""
    user.active = True
    db.add(user)
    record(db, user=by, organisation_id=None, action="account.reactivate", entity="user", entity_id=user.id, detail={})
    db.commit()


# -- regulators: separation of duties -----------------------------------------------------------


def _request_grant(db: Session, user: User, jurisdiction: str, by: User | None) -> RegulatorGrant | None:
    existing = db.exec(
        select(RegulatorGrant).where(RegulatorGrant.user_id == user.id, RegulatorGrant.jurisdiction == jurisdiction)
    ).first()
    if existing is not None or jurisdiction in (user.jurisdictions or []):
        return None
    grant = RegulatorGrant(user_id=user.id, jurisdiction=jurisdiction, requested_by_id=by.id if by else None)
    db.add(grant)
    db.flush()
    record(
        db,
        user=by,
        organisation_id=None,
        action="regulator.request",
        entity="user",
        entity_id=user.id,
        detail={"jurisdiction": jurisdiction, "grant": grant.id},
    )
    return grant


def request_jurisdictions(db: Session, user: User, jurisdictions: Iterable[str], *, by: User | None) -> int:
    """Ask for more jurisdictions on a regulator account; each awaits confirmation."""
    if user.platform_role != PlatformRole.REGULATOR:
        raise AccountError(Message(N_("Only a regulator account has jurisdictions.")))
    added = sum(1 for code in jurisdictions if _request_grant(db, user, code, by) is not None)
    db.commit()
    return added


def pending_grants(db: Session, user: User | None = None) -> list[RegulatorGrant]:
    """Unconfirmed grants, of one account or of all."""
    query = select(RegulatorGrant).where(RegulatorGrant.confirmed_at == None)  # noqa: E711
    if user is not None:
        query = query.where(RegulatorGrant.user_id == user.id)
    return list(db.exec(query.order_by(RegulatorGrant.requested_at, RegulatorGrant.id)))


def grants_to_confirm(db: Session, regulator: User) -> list[tuple[RegulatorGrant, User]]:
    """What ``regulator`` may confirm: pending grants of their own jurisdictions on other
    accounts, which they did not request."""
    if regulator.platform_role != PlatformRole.REGULATOR or not regulator.active or not regulator.jurisdictions:
        return []
    rows = db.exec(
        select(RegulatorGrant, User)
        .join(User, User.id == RegulatorGrant.user_id)
        .where(
            RegulatorGrant.confirmed_at == None,  # noqa: E711
            RegulatorGrant.jurisdiction.in_(regulator.jurisdictions),
            RegulatorGrant.user_id != regulator.id,
            User.active == True,  # noqa: E712
        )
        .order_by(RegulatorGrant.requested_at, RegulatorGrant.id)
    )
    return [(grant, user) for grant, user in rows if grant.requested_by_id != regulator.id]


def _may_confirm(regulator: User, grant: RegulatorGrant) -> bool:
    return (
        regulator.platform_role == PlatformRole.REGULATOR
        and regulator.active
        and grant.jurisdiction in (regulator.jurisdictions or [])
        and regulator.id not in (grant.user_id, grant.requested_by_id)
    )


def _apply(db: Session, grant: RegulatorGrant, by: User | None, via: str, valid_days: int) -> str | None:
    """Confirm ``grant``; returns the new account's invitation token if this confirmation
    issued it (the account has no password and no live invitation yet)."""
    user = db.get(User, grant.user_id)
    if user is None or not user.active or user.platform_role != PlatformRole.REGULATOR:
        raise AccountError(Message(N_("The account is not an active regulator account.")))
    grant.confirmed_at = utcnow()
    grant.confirmed_by_id = by.id if by else None
    grant.confirmed_via = via
    user.jurisdictions = sorted({*(user.jurisdictions or []), grant.jurisdiction})
    db.add(grant)
    token = None
    if user.password_hash is None and user.invite_token_hash is None:
        token = _with_invitation(user, valid_days)
    db.add(user)
    record(
        db,
        user=by,
        organisation_id=None,
        action="regulator.confirm",
        entity="user",
        entity_id=user.id,
        detail={
            "jurisdiction": grant.jurisdiction,
            "grant": grant.id,
            "via": via,
            "requested_by": grant.requested_by_id,
            "invitation_issued": token is not None,
        },
    )
    return token


def confirm_grant(db: Session, grant: RegulatorGrant, *, by: User, valid_days: int = INVITE_VALID_DAYS) -> str | None:
    """An active regulator of the grant's jurisdiction, who neither requested it nor holds it,
    confirms it. Returns the invitation token to hand to the new regulator, if one was issued."""
    if grant.confirmed_at is not None:
        raise AccountError(Message(N_("This jurisdiction is already confirmed.")))
    if not _may_confirm(by, grant):
        record(
            db,
            user=by,
            organisation_id=None,
            action="regulator.confirm_refused",
            entity="user",
            entity_id=grant.user_id,
            detail={"jurisdiction": grant.jurisdiction, "grant": grant.id},
        )
        db.commit()
        raise AccountError(Message(N_("Only another regulator of this jurisdiction can confirm it.")))
    try:
        token = _apply(db, grant, by, "regulator", valid_days)
        db.commit()
    except Exception:
        db.rollback()
        raise
    return token


def decline_grant(db: Session, grant: RegulatorGrant, *, by: User) -> None:
    """A regulator of the jurisdiction declines a pending grant; it is removed."""
    if grant.confirmed_at is not None or not _may_confirm(by, grant):
        raise AccountError(Message(N_("Only another regulator of this jurisdiction can decline it.")))
    record(
        db,
        user=by,
        organisation_id=None,
        action="regulator.decline",
        entity="user",
        entity_id=grant.user_id,
        detail={"jurisdiction": grant.jurisdiction, "grant": grant.id, "requested_by": grant.requested_by_id},
    )
    db.delete(grant)
    db.commit()


def has_regulator(db: Session, jurisdiction: str, *, besides: User | None = None) -> bool:
    """Whether an active account already regulates ``jurisdiction`` (confirmed)."""
    rows = db.exec(
        select(User).where(User.platform_role == PlatformRole.REGULATOR, User.active == True)  # noqa: E712
    )
    return any(jurisdiction in (u.jurisdictions or []) for u in rows if besides is None or u.id != besides.id)


def confirm_by_operator(
    db: Session, user: User, *, first_only: bool = True, valid_days: int = INVITE_VALID_DAYS
) -> tuple[list[str], list[str], str | None]:
    """The operator, on the server's command line, confirms the pending jurisdictions of
    ``user`` that have no regulator yet; a jurisdiction that has one is left to its regulators.
    Returns (confirmed, left to the jurisdiction's regulators, invitation token or None)."""
    if user.platform_role != PlatformRole.REGULATOR or not user.active:
        raise AccountError(Message(N_("%(email)s is not an active regulator account."), email=user.email))
    confirmed: list[str] = []
    left: list[str] = []
    token = None
    try:
        for grant in pending_grants(db, user):
            if first_only and has_regulator(db, grant.jurisdiction, besides=user):
                left.append(grant.jurisdiction)
                continue
            token = _apply(db, grant, None, "operator", valid_days) or token
            confirmed.append(grant.jurisdiction)
        db.commit()
    except Exception:
        db.rollback()
        raise
    return confirmed, left, token


# -- organisation members: roles, removal, invitations, reset links ------------------------------


def membership_of(db: Session, org: Organisation, user_id: int) -> tuple[Membership, User] | None:
    """A member of ``org`` with their account, or None when ``user_id`` is not a member."""
    row = db.exec(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organisation_id == org.id, Membership.user_id == user_id)
    ).first()
    return (row[0], row[1]) if row else None


def _other_admins(db: Session, org: Organisation, member: User) -> int:
    """Admins of ``org`` besides ``member`` who can sign in (active, password set)."""
    rows = db.exec(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == org.id,
            Membership.role == OrgRole.ADMIN,
            User.id != member.id,
            User.active == True,  # noqa: E712
            User.password_hash != None,  # noqa: E711
        )
    )
    return len(rows.all())


def _member(db: Session, org: Organisation, member: User) -> Membership:
    found = membership_of(db, org, member.id)
    if found is None:
        raise AccountError(
            Message(N_("%(email)s is not a member of %(organisation)s."), email=member.email, organisation=org.name)
        )
    return found[0]


def change_member_role(db: Session, org: Organisation, member: User, role: OrgRole, *, by: User | None) -> bool:
    """Make a member an admin or a contributor. The organisation always keeps an admin who can
    sign in. Returns whether anything changed."""
    membership = _member(db, org, member)
    if membership.role == role:
        return False
    if membership.role == OrgRole.ADMIN and not _other_admins(db, org, member):
        raise AccountError(
            Message(
                N_(
                    "%(email)s is the only admin of %(organisation)s who can sign in: "
                    "make another member an admin first."
                ),
                email=member.email,
                organisation=org.name,
            )
        )
    before, membership.role = membership.role, role
    db.add(membership)
    record(
        db,
        user=by,
        organisation_id=org.id,
        action="member.role",
        entity="user",
        entity_id=member.id,
        detail={"email": member.email, "from": before, "to": role},
    )
    db.commit()
    return True


def remove_member(db: Session, org: Organisation, member: User, *, by: User | None) -> int:
    """Take a member out of the organisation. Their sessions end; an account left in no
    organisation and with no platform role is deactivated (its links and sessions end with it),
    and can be invited again later. The sections they were assigned are nobody's again: returns
    how many."""
    membership = _member(db, org, member)
    if by is not None and by.id == member.id:
        raise AccountError(Message(N_("You cannot remove yourself: ask another admin.")))
    if membership.role == OrgRole.ADMIN and not _other_admins(db, org, member):
        raise AccountError(
            Message(
                N_("%(email)s is the only admin of %(organisation)s who can sign in: it cannot be removed."),
                email=member.email,
                organisation=org.name,
            )
        )
    db.delete(membership)
    released = release_member(db, org.id, member.id)
    db.flush()
    elsewhere = db.exec(select(Membership).where(Membership.user_id == member.id)).first() is not None
    deactivated = not elsewhere and member.platform_role == PlatformRole.NONE
    member.session_generation += 1
    if deactivated:
        member.active = False
        member.invite_token_hash = member.invite_expires_at = None
        member.reset_token_hash = member.reset_expires_at = None
    db.add(member)
    record(
        db,
        user=by,
        organisation_id=org.id,
        action="member.remove",
        entity="user",
        entity_id=member.id,
        detail={
            "email": member.email,
            "role": membership.role,
            "deactivated": deactivated,
            "sections_released": released,
        },
    )
    db.commit()
    return released


def _pending_member(db: Session, org: Organisation, member: User) -> Membership:
    membership = _member(db, org, member)
    if member.password_hash is not None:
        raise AccountError(
            Message(N_("%(email)s has already joined: there is no invitation to change."), email=member.email)
        )
    if not member.active:
        raise AccountError(Message(N_("The account is deactivated.")))
    return membership


def reissue_invitation(
    db: Session, org: Organisation, member: User, *, by: User | None, valid_days: int = INVITE_VALID_DAYS
) -> str:
    """A new invitation link for a member who has not joined yet; the old link stops working."""
    _pending_member(db, org, member)
    if by is not None:
        member.created_by_id = by.id  # whoever hands out the link may not complete it
    token = _with_invitation(member, valid_days)
    db.add(member)
    record(
        db,
        user=by,
        organisation_id=org.id,
        action="member.invite_reissued",
        entity="user",
        entity_id=member.id,
        detail={"email": member.email, "valid_days": valid_days},
    )
    db.commit()
    return token


def revoke_invitation(db: Session, org: Organisation, member: User, *, by: User | None) -> None:
    """The member's invitation link stops working; they stay listed until removed or invited again."""
    _pending_member(db, org, member)
    if member.invite_token_hash is None:
        raise AccountError(Message(N_("%(email)s has no open invitation."), email=member.email))
    member.invite_token_hash = member.invite_expires_at = None
    db.add(member)
    record(
        db,
        user=by,
        organisation_id=org.id,
        action="member.invite_revoked",
        entity="user",
        entity_id=member.id,
        detail={"email": member.email},
    )
    db.commit()


def issue_member_reset(
    db: Session, org: Organisation, member: User, *, by: User | None, valid_minutes: int = RESET_VALID_MINUTES
) -> str:
    """A password-reset link an organisation admin hands to a member who forgot their password.
    Not for one's own account (change it instead), nor for an account that also belongs to
    another organisation or holds a platform role: those are not this admin's to reset."""
    _member(db, org, member)
    if by is not None and by.id == member.id:
        raise AccountError(Message(N_("Change your own password on Your account.")))
    if member.password_hash is None:
        raise AccountError(
            Message(N_("%(email)s has not joined yet: issue a new invitation instead."), email=member.email)
        )
    others = db.exec(
        select(Membership).where(Membership.user_id == member.id, Membership.organisation_id != org.id)
    ).first()
    if others is not None or member.platform_role != PlatformRole.NONE:
        raise AccountError(
            Message(
                N_("%(email)s also has access elsewhere: the operator resets it (dd-toolkit reset-password)."),
                email=member.email,
            )
        )
    return issue_reset(db, member, by=by, valid_minutes=valid_minutes, organisation_id=org.id)


def issue_account_reset(db: Session, user: User, *, by: User | None, valid_minutes: int = RESET_VALID_MINUTES) -> str:
    """A password-reset link the platform admin hands to a working-group account. A regulator's
    reset link is never the platform admin's to see (it would give them the regulator's view):
    the operator issues it on the server."""
    if user.platform_role == PlatformRole.REGULATOR:
        raise AccountError(
            Message(
                N_(
                    "A regulator's reset link comes from the operator on the server (dd-toolkit reset-password), "
                    "so that no platform admin can take over a regulator's view."
                )
            )
        )
    if user.platform_role != PlatformRole.WORKING_GROUP:
        raise AccountError(Message(N_("Only working-group accounts are reset here.")))
    if user.password_hash is None:
        raise AccountError(Message(N_("%(email)s has not joined yet."), email=user.email))
    return issue_reset(db, user, by=by, valid_minutes=valid_minutes)


def create_organisation_with_admin(
    db: Session,
    *,
    name: str,
    profile,
    description: str = "",
    admin_email: str,
    admin_name: str,
    by: User | None = None,
    source: str,
    valid_days: int = INVITE_VALID_DAYS,
) -> tuple[Organisation, User, str]:
    """A new organisation with its profile and a first admin who joins through the returned
    invitation token: never an organisation nobody can sign in to. One transaction."""
    from dd_toolkit.records.assessments import create_organisation

    if not admin_email or not admin_email.strip():
        raise AccountError(Message(N_("An organisation needs a first admin: give their email.")))
    email = normalise_email(admin_email)
    if find_user(db, email) is not None and _reusable_account(db, email) is None:
        raise AccountError(Message(N_("An account with the email %(email)s already exists."), email=email))
    try:
        org = create_organisation(db, name.strip(), profile, by, description=description, source=source)
    except Exception:
        db.rollback()
        raise
    user, token = invite_member(db, org, email=email, name=admin_name, role=OrgRole.ADMIN, invited_by=by)
    return org, user, token


def reissue_working_group_invitation(
    db: Session, user: User, *, by: User | None, valid_days: int = INVITE_VALID_DAYS
) -> str:
    """A new invitation link for a working-group account that has not joined (the old link stops
    working). A regulator's invitation only ever goes to whoever confirms it."""
    if user.platform_role != PlatformRole.WORKING_GROUP:
        raise AccountError(Message(N_("Only a working-group account's invitation is issued again here.")))
    if user.password_hash is not None:
        raise AccountError(Message(N_("%(email)s has already joined."), email=user.email))
    if not user.active:
        raise AccountError(Message(N_("The account is deactivated.")))
    if by is not None:
        user.created_by_id = by.id  # whoever hands out the link may not complete it
    token = _with_invitation(user, valid_days)
    db.add(user)
    record(
        db,
        user=by,
        organisation_id=None,
        action="account.invite_reissued",
        entity="user",
        entity_id=user.id,
        detail={"email": user.email, "valid_days": valid_days},
    )
    db.commit()
    return token
