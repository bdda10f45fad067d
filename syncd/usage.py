"""Bad input at the command line: one line saying why, exit code 2 (`syncd.cli.main`)."""

from __future__ import annotations


class UsageError(ValueError):
    """Raised by any verb; its text is the whole message the user reads."""
