"""structlog set-up: JSON lines when not on a terminal, readable lines on one.

Context (portal, dossier code, cycle) is bound with structlog's contextvars. Personal data must
never reach a log line: connectors drop it at the edge, and `redact_personal` removes any event
key that names personal data, as a second line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from connectors.city.wire import PERSONAL_FIELDS as CITY_PERSONAL
from connectors.national.wire import PERSONAL_FIELDS as NATIONAL_PERSONAL

PERSONAL_KEYS = frozenset(
    k.lower()
    for k in CITY_PERSONAL
    | NATIONAL_PERSONAL
    | {"applicant", "applicant_name", "id_number", "phone", "raw"}
)
REDACTED = "[redacted]"


def redact_personal(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if key.lower() in PERSONAL_KEYS:
            event[key] = REDACTED
    return event


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_personal,
            structlog.processors.format_exc_info if not console else _identity,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def _identity(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event
