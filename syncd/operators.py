"""Who acts from the command line, as the audit names them.

The audit names the OS user running the command (from the system's user database, not $USER,
which anyone can set). `--by NAME` names someone else only in an administrator's context: the
OS user's login name is an admin account of the operator interface, and NAME is an account that
may work the queue (operator or admin). The audit never holds a name that is nobody's, nor one
the caller made up.
"""

from __future__ import annotations

import os
import pwd
from typing import TYPE_CHECKING

from syncd.i18n import t

if TYPE_CHECKING:
    from syncd.store import Store


class OperatorError(ValueError):
    """`--by` refused: one line, exit code 2."""


def os_user() -> str:
    """The login name of the OS account the command runs as; "uid:N" for one without."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


async def acting_operator(given: str | None, store: Store) -> str:
    """Who the audit names for a command run with `--by given` (None: not given)."""
    from syncd.web.auth import USER_NAME, Users  # the accounts (argon2): only when asked

    me = os_user()
    if given is None or given == me:
        return me
    users = Users(store)
    caller = await users.get(me) if USER_NAME.fullmatch(me) else None
    if caller is None or not caller.can("admin"):
        raise OperatorError(t("mismatches.by_not_admin", me=me))
    account = await users.get(given) if USER_NAME.fullmatch(given) else None
    if account is None or not account.can("operator"):
        raise OperatorError(t("mismatches.by_unknown", name=given))
    return given
