"""`syncd writeback [list|log|retry|cancel|release]`: the write-back outbox (syncd.outbox).

`list` shows what waits to be pushed (pending, in flight, failed with the portal's answer, or
what a dry run would push); `log` what left the outbox; `retry` makes failed entries due now;
`cancel` takes an entry out for good (that very plan is not taken again; audited); `release`
lets a held burst go (audited).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconcile.model import VN_TZ
from syncd.i18n import clock_text, failure_text, language, t
from syncd.operators import os_user
from syncd.outbox import STATES
from syncd.usage import UsageError

if TYPE_CHECKING:
    from syncd.store import Store


def add_writeback_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser("writeback", help=t("help.writeback"))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help=t("help.writeback_list"))
    # `list` is the default action, so its options are taken without it too.
    for lister in (parser, listing):
        lister.add_argument("--state", choices=STATES, help=t("help.writeback_state"))
        lister.add_argument("--format", choices=("text", "json"), default="text")
    log = actions.add_parser("log", help=t("help.writeback_log"))
    log.add_argument("--limit", type=int, default=50, help=t("help.limit"))
    log.add_argument("--format", choices=("text", "json"), default="text")
    retry = actions.add_parser("retry", help=t("help.writeback_retry"))
    retry.add_argument("keys", nargs="*", metavar="KEY")
    retry.add_argument("--all", action="store_true", help=t("help.writeback_all_failed"))
    cancel = actions.add_parser("cancel", help=t("help.writeback_cancel"))
    cancel.add_argument("key", metavar="KEY")
    cancel.add_argument("--reason", required=True, help=t("help.reason"))
    release = actions.add_parser("release", help=t("help.writeback_release"))
    release.add_argument("--reason", required=True, help=t("help.reason"))
    parser.set_defaults(action="list", format="text", state=None)


def _changes(changes: Any) -> str:
    return ", ".join(f"{k}: {v[0] or '-'} → {v[1] or '-'}" for k, v in sorted(changes.items()))


async def writeback_verb(store: Store, args: argparse.Namespace, enabled: bool) -> int:
    outbox = store.outbox
    now = datetime.now(VN_TZ)
    who = os_user()  # the audit names the OS account, never what $USER claims
    if args.action == "retry":
        if bool(args.keys) == bool(args.all):
            raise UsageError(t("writeback.retry_what"))
        unknown = [k for k in args.keys if await outbox.entry(k) is None]
        if unknown:
            raise UsageError(t("writeback.unknown", keys=", ".join(unknown)))
        print(t("writeback.retried", count=await outbox.retry(args.keys, now)))
        return 0
    if args.action == "cancel":
        entry = await outbox.entry(args.key)
        if entry is None:
            raise UsageError(t("writeback.unknown", keys=args.key))
        await outbox.finish(entry, "cancelled", {}, args.reason, now, by=who)
        await store.enqueue([args.key])  # its mismatch goes back to the operators
        print(t("writeback.cancelled", key=args.key))
        return 0
    if args.action == "release":
        await store.release_writeback(who, args.reason, now)
        print(t("writeback.released"))
        return 0
    if args.action == "log":
        entries = await outbox.log(args.limit)
        if args.format == "json":
            print(json.dumps(entries, ensure_ascii=False, indent=2))
            return 0
        for e in entries:
            changes = _changes(json.loads(e.get("changes") or "{}"))
            outcome = t(f"writeback.outcome.{e['outcome']}")
            print(f"{clock_text(e['at'])}  {e['key']}  {outcome}  {changes}  {e.get('by', '')}")
        return 0
    entries = await outbox.entries(args.state)
    if args.format == "json":
        print(json.dumps(entries, ensure_ascii=False, indent=2, sort_keys=True))
        return 0
    mode = t("writeback.enabled") if enabled else t("writeback.dry_run")
    held = (await store.status()).get("writeback:held")
    print(t("writeback.count", count=len(entries), mode=mode))
    if held:
        print(t("writeback.held", reason=json.loads(held)["reason"]))
    for e in entries:
        state = t(f"writeback.state.{e['state']}")
        line = f"{e['key']}  {state}  {e['action']}  {_changes(e['changes'])}"
        if e.get("last_error"):
            line += f"  ({failure_text(e.get('last_error_kind'), e['last_error'], language())})"
        print(line)
    return 0
