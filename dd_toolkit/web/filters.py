"""Jinja filters shared by every area's templates."""

from __future__ import annotations

import datetime as dt


def machine_time(value: dt.datetime | dt.date | str | None) -> str:
    """A ``<time datetime="...">`` value: a date as ``2026-11-30``, a moment as
    ``2026-11-30T16:24:05Z`` in UTC (stored moments are UTC; HTML allows at most three decimals
    of a second, so none are given)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
