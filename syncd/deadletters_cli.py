"""`syncd deadletters [list|retry]`: dossiers whose reconciliation keeps failing.

A dossier whose reconciliation raises (a stored record that does not decode, an operator's value
that does not parse, a bug) fails alone: it is tried again with backoff, and after
`runtime.dead_letter_after` attempts it is a dead letter, listed here with its error until a
reconciliation of it succeeds (when its data changes, at the next sweep, or after `retry`).
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from syncd.i18n import clock_text, t
from syncd.usage import UsageError

if TYPE_CHECKING:
    from syncd.store import Store


def add_deadletters_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("deadletters", help=t("help.deadletters"))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help=t("help.deadletters_list"))
    # `list` is the default action, so its options are taken without it too.
    for lister in (parser, listing):
        lister.add_argument("--format", choices=("text", "json"), default="text")
    retry = actions.add_parser("retry", help=t("help.deadletters_retry"))
    retry.add_argument("codes", nargs="*", metavar="CODE")
    retry.add_argument("--all", action="store_true", help=t("help.deadletters_all"))
    parser.set_defaults(action="list", format="text")


def _line(entry: dict[str, object], when: object) -> str:
    stamp = clock_text(when)
    return f"{entry['code']}  {stamp}  ×{entry['attempts']}  {entry['error']}"


async def deadletters_verb(store: Store, args: argparse.Namespace) -> int:
    if args.action == "retry":
        if bool(args.codes) == bool(args.all):
            raise UsageError(t("deadletters.retry_what"))
        known = {e["code"] for e in await store.dead_letters()}
        unknown = sorted(set(args.codes) - known)
        if unknown:
            raise UsageError(t("deadletters.unknown", codes=", ".join(unknown)))
        queued = await store.retry_failed(None if args.all else args.codes)
        print(t("deadletters.queued", count=queued))
        return 0
    dead, retrying = await store.dead_letters(), await store.retrying()
    if args.format == "json":
        print(json.dumps({"dead": dead, "retrying": retrying}, ensure_ascii=False, indent=2))
        return 0
    print(t("deadletters.count", dead=len(dead), retrying=len(retrying)))
    for entry in dead:
        print(_line(entry, entry.get("last_at")))
    if retrying:
        print(t("deadletters.retrying"))
        for entry in retrying:
            print(_line(entry, entry.get("next_at")))
    return 0
