"""Plain data for an organisation profile and its answers, as the engine sees them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
    # The age groups (ids of the taxonomy's ``age_groups``) the service is used by or allows;
    # empty when not given. The children's risk register is pre-filled for these.
    age_groups: tuple[str, ...] = ()

    def get(self, name: str) -> Any:
        return getattr(self, name)


# The profile fields, defined once (by Profile above): organisations, the profile form, snapshots,
# decoded records and conditions all read this list. A field that holds a list defaults to ().
PROFILE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Profile))
PROFILE_LIST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Profile) if f.default == ())
PROFILE_SCALAR_FIELDS: tuple[str, ...] = tuple(f for f in PROFILE_FIELDS if f not in PROFILE_LIST_FIELDS)
# The taxonomy vocabulary each field's values come from.
PROFILE_VOCABULARY = {
    "service_types": "service_types",
    "features": "features",
    "countries": "countries",
    "size_band": "size_bands",
    "under18_users": "under18_users",
    "hq_country": "countries",
    "age_groups": "age_groups",
}


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
