"""`syncd users add|remove|list|passwd|role|token|sessions|logout`: the operator interface's
accounts. Changing a password or a role, removing a user and `logout` end every session and
token the user had (syncd.web.auth)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from syncd.i18n import t
from syncd.web.auth import ROLES, AuthError, Users

if TYPE_CHECKING:
    from syncd.store import Store


def add_users_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = verbs.add_parser("users", help=t("help.users"))
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help=t("help.users_add"))
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-stdin", action="store_true", help=t("help.password_stdin"))
    remove = actions.add_parser("remove", help=t("help.users_remove"))
    remove.add_argument("name")
    actions.add_parser("list", help=t("help.users_list"))
    passwd = actions.add_parser("passwd", help=t("help.users_passwd"))
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help=t("help.password_stdin"))
    role = actions.add_parser("role", help=t("help.users_role"))
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    token = actions.add_parser("token", help=t("help.users_token"))
    token.add_argument("name")
    token.add_argument("--label", default="", help=t("help.token_label"))
    sessions = actions.add_parser("sessions", help=t("help.users_sessions"))
    sessions.add_argument("name")
    logout = actions.add_parser("logout", help=t("help.users_logout"))
    logout.add_argument("name")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(t("users.password_prompt"))
    if getpass.getpass(t("users.password_again")) != first:
        raise AuthError(t("users.password_mismatch"))
    return first


async def users_verb(store: Store, args: argparse.Namespace) -> int:
    """Raises AuthError for bad input (the CLI turns it into exit code 2)."""
    users = Users(store)
    if args.action == "add":
        user = await users.add(args.name, args.role, _password(args.password_stdin))
        print(t("users.added", name=user.name, role=user.role))
    elif args.action == "remove":
        await users.remove(args.name)
        print(t("users.removed", name=args.name))
    elif args.action == "list":
        for user in await users.list():
            print(f"{user.name}\t{user.role}")
    elif args.action == "passwd":
        ended = await users.set_password(args.name, _password(args.password_stdin))
        print(t("users.password_set", name=args.name))
        print(t("users.ended", name=args.name, count=ended))
    elif args.action == "role":
        ended = await users.set_role(args.name, args.role)
        print(t("users.role_set", name=args.name, role=args.role))
        print(t("users.ended", name=args.name, count=ended))
    elif args.action == "token":
        print(await users.add_token(args.name, args.label))
        print(t("users.token_once"), file=sys.stderr)
    elif args.action == "sessions":
        found = await users.credentials(args.name)
        if not found:
            print(t("users.no_sessions", name=args.name))
        for c in found:
            facts = [t("users.created", at=c.created)]
            if c.expires:
                facts.append(t("users.expires", at=c.expires))
            if c.label:
                facts.append(t("users.label", label=c.label))
            print("\t".join([t(f"users.{c.kind}"), c.id, *facts]))
    elif args.action == "logout":
        print(t("users.ended", name=args.name, count=await users.logout(args.name)))
    return 0
