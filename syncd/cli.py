"""The `syncd` command: its arguments, and `main`. Every verb is documented in README.md,
"Command line"; the verbs themselves are in `syncd.verbs`.

This module imports only what parsing the arguments needs, so that `syncd --help` answers at
once: the verbs, and the web application, Redis client, spreadsheet writer and mock portals they
use, are imported when a verb runs (tests/test_cli.py keeps it so).

Exit codes: 0 success; 1 the work failed (a portal or Redis could not be reached in a one-shot
run); 2 bad usage or bad configuration (one line on stderr naming the key, no traceback).
`main` returns the exit code and can be called again in the same process (each call runs its
own event loop).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields

from connectors.fault_settings import FaultSettings
from reconcile.compare import MismatchKind
from syncd.deadletters_cli import add_deadletters_parser
from syncd.i18n import argparse_words, named_choices, set_language, t
from syncd.queue_states import STATES
from syncd.report_cli import REPORT_FORMATS, add_report_parsers
from syncd.usage import UsageError
from syncd.users_cli import add_users_parser
from syncd.writeback_cli import add_writeback_parser

DEMO_PERIOD = "2024-07"


def build_parser() -> argparse.ArgumentParser:
    """The parser, its help in the current language (see `_early_language`)."""
    parser = argparse.ArgumentParser(prog="syncd", description=t("help.description"))
    parser.add_argument("--config", metavar="FILE", help=t("help.config"))
    parser.add_argument("--lang", choices=("vi", "en"), help=t("help.lang"))
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help=t("help.run"))
    run.add_argument("--once", action="store_true", help=t("help.once"))

    mock = verbs.add_parser("mock-portals", help=t("help.mock"))
    mock.add_argument("--host", default="127.0.0.1", help=t("help.host"))
    mock.add_argument("--city-port", type=int, default=8081, help=t("help.city_port"))
    mock.add_argument("--national-port", type=int, default=8082, help=t("help.national_port"))
    mock.add_argument("--dossiers", type=int, help=t("help.dossiers_config"))
    mock.add_argument("--seed", type=int, help=t("help.seed_config"))
    mock.add_argument("--scenario", metavar="FILE", help=t("help.mock_scenario"))
    mock.add_argument("--clock-speed", type=float, metavar="X", help=t("help.clock_speed"))
    for fault in fields(FaultSettings):
        if fault.name != "malformed_kinds":
            flag = "fault-seed" if fault.name == "seed" else fault.name.replace("_", "-")
            mock.add_argument(
                f"--{flag}",
                dest=f"fault_{fault.name}",
                type=int if fault.name == "seed" else float,
                metavar="N",
                help=t("help.fault", key=f"mock.faults.{fault.name}"),
            )

    demo = verbs.add_parser("demo", help=t("help.demo"))
    demo.add_argument("--scenario", metavar="FILE", help=t("help.demo_scenario"))
    demo.add_argument("--dossiers", type=int, help=t("help.demo_dossiers"))
    demo.add_argument("--seed", type=int, default=7, help=t("help.seed"))
    demo.add_argument("--period", default=DEMO_PERIOD, help=t("help.period"))
    demo.add_argument("--format", choices=REPORT_FORMATS, default="text", help=t("help.format"))
    demo.add_argument("--output", "-o", metavar="FILE", help=t("help.report_output"))
    demo.add_argument("--data-dir", help=t("help.data_dir"))

    add_report_parsers(verbs)

    resync = verbs.add_parser("resync", help=t("help.resync"))
    target = resync.add_mutually_exclusive_group(required=True)
    target.add_argument("--portal", choices=("city", "national"), help=t("help.resync_portal"))
    target.add_argument("--code", action="append", metavar="CODE", help=t("help.resync_code"))
    resync.add_argument("--since", metavar="YYYY-MM-DD", help=t("help.resync_since"))

    quarantine = verbs.add_parser("quarantine", help=t("help.quarantine"))
    actions = quarantine.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help=t("help.quarantine_list"))
    listing.add_argument("--limit", type=int, default=50, help=t("help.limit"))
    listing.add_argument("--portal", choices=("city", "national"), help=t("help.portal_filter"))
    show = actions.add_parser("show", help=t("help.quarantine_show"))
    show.add_argument("id", help=t("help.quarantine_id"))
    retry = actions.add_parser("retry", help=t("help.quarantine_retry"))
    retry.add_argument("ids", nargs="*", metavar="ID", help=t("help.quarantine_id"))
    retry.add_argument("--all", action="store_true", help=t("help.quarantine_all"))

    scenario = verbs.add_parser("scenario", help=t("help.scenario"))
    scenario_actions = scenario.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = scenario_actions.add_parser("generate", help=t("help.scenario_generate"))
    _dataset_flags(generate)
    generate.add_argument("--output", "-o", metavar="FILE", help=t("help.output"))
    check_scenario = scenario_actions.add_parser("check", help=t("help.scenario_check"))
    check_scenario.add_argument("file", help=t("help.scenario_file"))

    _mismatches_parser(verbs)

    add_writeback_parser(verbs)

    verbs.add_parser("serve", help=t("help.serve"))
    add_users_parser(verbs)
    add_deadletters_parser(verbs)

    check = verbs.add_parser("check-config", help=t("help.check"))
    check.add_argument("file", nargs="?", help=t("help.check_file"))
    return parser


def _mismatches_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mismatches = verbs.add_parser("mismatches", help=t("help.mismatches"))
    actions = mismatches.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help=t("help.mismatches_list"))
    kinds = named_choices("kind.", [kind.value for kind in MismatchKind])
    listing.add_argument("--kind", metavar="K", help=f"{t('help.mismatch_kind')}: {kinds}")
    # Checked by the queue, which names the states in its one-line error.
    states = named_choices("state.", STATES)
    listing.add_argument("--state", metavar="S", help=f"{t('help.mismatch_state')}: {states}")
    listing.add_argument("--field", metavar="F", help=t("help.mismatch_field"))
    listing.add_argument("--limit", type=int, default=50, help=t("help.limit"))
    listing.add_argument("--offset", type=int, default=0, help=t("help.offset"))
    listing.add_argument(
        "--format", choices=("text", "json"), default="text", help=t("help.format")
    )
    show = actions.add_parser("show", help=t("help.mismatches_show"))
    show.add_argument("id", help=t("help.mismatch_id"))
    claim = actions.add_parser("claim", help=t("help.mismatches_claim"))
    claim.add_argument("id", help=t("help.mismatch_id"))
    claim.add_argument("--by", metavar="WHO", help=t("help.by"))
    resolve = actions.add_parser("resolve", help=t("help.mismatches_resolve"))
    resolve.add_argument("id", help=t("help.mismatch_id"))
    # Checked by the handler rather than argparse, so that a mistake is one line.
    resolve.add_argument("--accept", choices=("city", "national"), help=t("help.accept"))
    resolve.add_argument("--value", metavar="FIELD=V", help=t("help.value"))
    resolve.add_argument("--ignore", action="store_true", help=t("help.ignore"))
    resolve.add_argument("--reason", metavar="TEXT", help=t("help.reason"))
    resolve.add_argument("--by", metavar="WHO", help=t("help.by"))
    reopen = actions.add_parser("reopen", help=t("help.mismatches_reopen"))
    reopen.add_argument("id", help=t("help.mismatch_id"))
    reopen.add_argument("--reason", metavar="TEXT", help=t("help.reason"))
    reopen.add_argument("--by", metavar="WHO", help=t("help.by"))
    for verb, text in (("mark-migrated", "mark"), ("unmark-migrated", "unmark")):
        verdict = actions.add_parser(verb, help=t(f"help.mismatches_{text}"))
        verdict.add_argument("key", help=t("help.dossier_key"))
        verdict.add_argument("--reason", metavar="TEXT", help=t("help.reason"))
        verdict.add_argument("--by", metavar="WHO", help=t("help.by"))
    audit = actions.add_parser("audit", help=t("help.mismatches_audit"))
    audit.add_argument("--limit", type=int, default=100, help=t("help.limit"))
    audit.add_argument("--since", metavar="WHEN", help=t("help.since"))
    audit.add_argument("--format", choices=("text", "csv"), default="text", help=t("help.format"))


def _dataset_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dossiers", type=int, default=300, help=t("help.dossiers"))
    parser.add_argument("--seed", type=int, default=7, help=t("help.seed"))


# argparse looks its own words up through gettext when it prints them; this says them in the
# language of the other messages.
setattr(argparse, "_", argparse_words)  # noqa: B010 (argparse's stub does not declare it)


def _early_language(argv: Sequence[str]) -> str | None:
    """--lang before parsing, so that --help itself is in the chosen language."""
    for index, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: the process's arguments); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    set_language(_early_language(argv))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or bad usage (argparse has printed why)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    import asyncio

    from syncd import config as config_module
    from syncd import logs
    from syncd.config import ConfigError
    from syncd.verbs import dispatch

    try:
        config = config_module.load(
            args.file if args.verb == "check-config" and args.file else args.config
        )
        if args.lang is None:
            set_language(config.ui.language)
        for warning in config.warnings:
            print(warning, file=sys.stderr)
        logs.configure(config.log.format, "warning" if args.verb == "demo" else config.log.level)
        return asyncio.run(dispatch(args, config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(t("interrupted"), file=sys.stderr)
        return 130
