"""API tokens of regulator accounts: shown once when created, stored only as a SHA-256 hash.

A token acts as its account, so it sees exactly what the regulator sees in the browser (the
submissions addressed to their jurisdictions), and only on the read-only API: the request
loader below ignores it on every other page and on any method but GET and HEAD.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, timedelta

from flask import Request
from sqlmodel import Session, select

from dd_toolkit.records.audit import record
from dd_toolkit.records.models import ApiToken, User, utcnow
from dd_toolkit.web.authz import TOKEN_BLUEPRINTS, TOKEN_ROLES

# A recognisable prefix lets secret scanners and people tell a toolkit token from other secrets.
PREFIX = "ddt_"
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_NAME = 200
MAX_DAYS = 366


def is_expired(row: ApiToken) -> bool:
    if row.expires_at is None:
        return False
    at = row.expires_at if row.expires_at.utcoffset() is not None else row.expires_at.replace(tzinfo=UTC)
    return at <= utcnow()


class TokenError(Exception):
    """A token cannot be created or revoked; the message says why."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: Session, user: User, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for a regulator or working-group account; returns the row and the token, which
    is not kept. A token sees what its account sees and nothing more; it is bound to the
    account's role now, and may expire after ``expires_in_days``."""
    name = (name or "").strip()
    if not name:
        raise TokenError("Give the token a name, such as the system that will use it.")
    if len(name) > MAX_NAME:
        raise TokenError(f"Keep the name under {MAX_NAME} characters.")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise TokenError(f"A token may last from 1 to {MAX_DAYS} days.")
    if user.platform_role not in TOKEN_ROLES or not user.active:
        raise TokenError("Only an active regulator or working-group account can have API tokens.")
    token = PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    row = ApiToken(
        user_id=user.id, name=name, token_hash=hash_token(token), role=user.platform_role, expires_at=expires_at
    )
    db.add(row)
    db.flush()
    record(
        db,
        user=user,
        organisation_id=None,
        action="api_token.create",
        entity="api_token",
        entity_id=row.id,
        detail={"name": name, "role": user.platform_role, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    db.commit()
    return row, token


def revoke_token(db: Session, row: ApiToken, user: User) -> None:
    if row.revoked:
        return
    row.revoked = True
    db.add(row)
    record(
        db,
        user=user,
        organisation_id=None,
        action="api_token.revoke",
        entity="api_token",
        entity_id=row.id,
        detail={"name": row.name},
    )
    db.commit()


def tokens_of(db: Session, user: User) -> list[ApiToken]:
    return list(
        db.exec(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked, ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if the request has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def user_for_token(db: Session, token: str) -> User | None:
    """The account a token belongs to, if it is known, not revoked, not expired, the account is
    active and may hold tokens, and still has the role the token was made for; records when it
    was used."""
    row = db.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked or is_expired(row):
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.active or user.platform_role not in TOKEN_ROLES or user.platform_role != row.role:
        return None
    row.last_used_at = utcnow()
    db.add(row)
    db.commit()
    return user


def user_from_request(db: Session, request: Request) -> User | None:
    """Flask-Login's request loader: a bearer token signs in only on the API's own endpoints
    and only for reading; anywhere else it is ignored, so it never opens an HTML page or a form."""
    if request.blueprint not in TOKEN_BLUEPRINTS or request.method not in SAFE_METHODS:
        return None
    token = bearer_token(request)
    return user_for_token(db, token) if token else None
