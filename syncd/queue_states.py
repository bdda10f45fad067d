"""The mismatch queue's states, apart from the queue (`syncd.queue`, which needs Redis) so that
the command line can name them in its help without loading it."""

from __future__ import annotations

STATES = ("open", "claimed", "pushing", "resolved", "auto_resolved")
# `pushing`: write-back will fix it (syncd.outbox); it resolves when a later read agrees.
ACTIVE_STATES = ("open", "claimed", "pushing")
