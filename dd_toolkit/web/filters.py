"""Jinja filters shared by every area's templates."""

from __future__ import annotations

import datetime as dt

from flask_babel import format_date, format_datetime


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


def local_date(value: dt.datetime | dt.date | None) -> str:
    """A date as the reader's language writes it (Babel's medium format: "30 Nov 2026",
    "30 พ.ย. 2026"); empty for none."""
    if value is None:
        return ""
    return format_date(value, "medium")


def local_time(value: dt.datetime | None) -> str:
    """A moment as the reader's language writes it, in UTC (stored moments are UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_datetime(value, "medium")
