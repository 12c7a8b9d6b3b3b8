"""Accounts, organisations and invitations, shared by the web pages, the CLI and the demo."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from dd_toolkit.records.assessments import record
from dd_toolkit.records.models import Membership, Organisation, OrgRole, PlatformRole, User, utcnow

_hasher = PasswordHasher()


class AccountError(Exception):
    """An account operation cannot be done; the message is shown to the user."""


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
) -> User:
    email = normalise_email(email)
    if find_user(db, email) is not None:
        raise AccountError(f"An account with the email {email} already exists.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password) if password else None,
        platform_role=platform_role,
        jurisdictions=jurisdictions or [],
    )
    db.add(user)
    db.flush()
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
    """A regulator or working-group account, created by a platform admin, with an invitation."""
    if role == PlatformRole.REGULATOR and not jurisdictions:
        raise AccountError("A regulator account needs at least one jurisdiction.")
    try:
        user = create_user(
            db,
            email=email,
            name=name,
            platform_role=role,
            jurisdictions=jurisdictions if role == PlatformRole.REGULATOR else [],
        )
        token = _with_invitation(user, valid_days)
        db.add(user)
        record(
            db,
            user=invited_by,
            organisation_id=None,
            action="account.invite",
            entity="user",
            entity_id=user.id,
            detail={"email": user.email, "role": role, "jurisdictions": jurisdictions},
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
    """Create the member's account and return a one-time token for their invitation link."""
    try:
        user = create_user(db, email=email, name=name)
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
            detail={"email": user.email, "role": role},
        )
        db.commit()
    except Exception:
        db.rollback()
        raise
    return user, token


def user_for_invite(db: Session, token: str) -> User | None:
    user = db.exec(select(User).where(User.invite_token_hash == _token_hash(token))).first()
    if user is None or user.invite_expires_at is None:
        return None
    return user if user.invite_expires_at > utcnow() else None


def accept_invite(db: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.invite_token_hash = None
    user.invite_expires_at = None
    db.add(user)
    record(db, user=user, organisation_id=None, action="member.accept_invite", entity="user", entity_id=user.id)
    db.commit()
