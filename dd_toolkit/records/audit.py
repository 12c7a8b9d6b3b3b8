"""The audit trail: one event per change, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from dd_toolkit.records.models import AuditEvent, User


def record(
    db: Session,
    *,
    user: User | None,
    organisation_id: int | None,
    action: str,
    entity: str,
    entity_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to the session; the caller's commit writes it with the change."""
    db.add(
        AuditEvent(
            user_id=user.id if user else None,
            organisation_id=organisation_id,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            detail=detail or {},
        )
    )
