"""Plain data for an organisation profile and its answers, as the engine sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Profile:
    """The facts about an organisation that decide which questions apply."""

    service_types: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    size_band: str | None = None
    under18_users: str | None = None
    hq_country: str | None = None

    def get(self, name: str) -> Any:
        return getattr(self, name)


@dataclass(frozen=True)
class Evidence:
    url: str
    description: str = ""


@dataclass(frozen=True)
class AnswerData:
    """One saved answer. ``value`` is already in the canonical form for its question type:
    int 0-4 (maturity), "yes"/"partial"/"no", an option value, a list of option values,
    a number, text, or an ISO date string."""

    value: Any = None
    not_applicable: bool = False
    justification: str = ""
    comment: str = ""
    evidence: tuple[Evidence, ...] = ()
    # For metric questions: {"period_start": ..., "period_end": ..., "methodology": ...}
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_value(self) -> bool:
        return not (self.value is None or self.value == "" or self.value == [])

    @property
    def is_complete(self) -> bool:
        """Answered, or marked not applicable with a justification."""
        if self.not_applicable:
            return bool(self.justification.strip())
        return self.has_value
