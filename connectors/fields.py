"""Strict field readers shared by the wire formats: each failure names the field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Cursor, WireError
from reconcile.model import VN_TZ


def text(raw: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise WireError(f"{name}: missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WireError(f"{name}: expected a string, got {type(value).__name__}")
    return str(value).strip()


def required_time(raw: Mapping[str, Any], name: str, fmt: str) -> datetime:
    return parse_local(text(raw, name), fmt, name)


def optional_time(raw: Mapping[str, Any], name: str, fmt: str) -> datetime | None:
    """A local (Asia/Ho_Chi_Minh) time in `fmt`; an empty string means none."""
    value = text(raw, name, required=False)
    return parse_local(value, fmt, name) if value else None


def parse_local(value: str, fmt: str, name: str) -> datetime:
    try:
        return datetime.strptime(value, fmt).replace(tzinfo=VN_TZ)
    except ValueError:
        raise WireError(f"{name}: {value!r} is not a date in the form {fmt}") from None


def format_local(when: datetime | None, fmt: str) -> str:
    return "" if when is None else when.astimezone(VN_TZ).strftime(fmt)


def records(raw: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = raw.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WireError(f"{name}: expected a list of objects")
    return value


def feed_key(raw: Mapping[str, Any], code_field: str, time_field: str, fmt: str) -> Cursor | None:
    """A record's position in the change feed, or None if its code or timestamp is unusable."""
    try:
        return Cursor(required_time(raw, time_field, fmt), text(raw, code_field))
    except WireError:
        return None
