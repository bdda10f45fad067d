"""Strict field readers shared by the wire formats: each failure names the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import WireError, shown
from reconcile.model import VN_TZ


def text(raw: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise WireError(name, "missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise WireError(name, "not_text", type=type(value).__name__)
    return str(value).strip()


def required_time(raw: Mapping[str, Any], name: str, fmt: str) -> datetime:
    return parse_local(text(raw, name), fmt, name)


def optional_time(raw: Mapping[str, Any], name: str, fmt: str) -> datetime | None:
    """A local (Asia/Ho_Chi_Minh) time in `fmt`; an empty string means none."""
    value = text(raw, name, required=False)
    return parse_local(value, fmt, name) if value else None


# The portals' two formats, parsed without strptime (which costs ~20 µs a call and dominated
# ingest): group order year, month, day, hour, minute, second.
_FAST_FORMATS = {
    "%Y%m%d%H%M%S": re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})", re.ASCII),
    "%d/%m/%Y %H:%M:%S": re.compile(
        r"(?P<d>\d{2})/(?P<m>\d{2})/(?P<y>\d{4}) (\d{2}):(\d{2}):(\d{2})", re.ASCII
    ),
}


def parse_local(value: str, fmt: str, name: str) -> datetime:
    pattern = _FAST_FORMATS.get(fmt)
    try:
        if pattern is None:
            return datetime.strptime(value, fmt).replace(tzinfo=VN_TZ)
        match = pattern.fullmatch(value)
        if match is None:
            raise ValueError(value)
        a, month, b, hour, minute, second = (int(group) for group in match.groups())
        year, day = (b, a) if pattern.groupindex else (a, b)  # named groups: day first
        return datetime(year, month, day, hour, minute, second, tzinfo=VN_TZ)
    except ValueError:
        raise WireError(name, "not_date", value=shown(value), format=fmt) from None


def format_local(when: datetime | None, fmt: str) -> str:
    return "" if when is None else when.astimezone(VN_TZ).strftime(fmt)


def records(raw: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = raw.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise WireError(name, "not_records")
    return value


# The codes the portals document (DOMAIN.md §4), read leniently enough for real data: a dossier
# code is "<agency code>-YYMMDD-NNNN" (000.00.45.H26-240701-0001), but older systems and
# rewritten codes vary; a procedure code is like 1.009876 (local ones longer:
# 1.004227.000.00.00.H26); a field code is a short upper-case code (DT, XNK). None may hold
# spaces, control characters or what starts a spreadsheet formula (= + - @ at the start), or be
# absurdly long: such a record is quarantined with the reason.
CODE_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "dossier": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII),
        "letters, digits, '.', '-', '_', starting with a letter or digit, at most 64",
    ),
    "procedure": (
        re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII),
        "letters, digits, '.', '-', '_', starting with a letter or digit, at most 64",
    ),
    "field": (
        re.compile(r"[A-Z0-9][A-Z0-9._-]{0,19}", re.ASCII),
        "upper-case letters, digits, '.', '-', '_', starting with a letter or digit, at most 20",
    ),
}


def code(raw: Mapping[str, Any], name: str, kind: str, *, required: bool = True) -> str:
    """A code field of `kind` (dossier, procedure, field), checked against CODE_FORMATS."""
    value = text(raw, name, required=required)
    pattern, rule = CODE_FORMATS[kind]
    if value and not pattern.fullmatch(value):
        raise WireError(name, "bad_code", value=shown(value), kind=kind, rule=rule)
    return value
