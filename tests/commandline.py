"""Running the `syncd` command in tests.

`run_cli` calls the entry point, `syncd.cli.main`, in this process: its environment, standard
input, output and error for the call, its exit code returned. That is the command as a user
runs it, less the interpreter's start-up; calls are taken one at a time (they share the
process's environment and standard streams), and may come from a worker thread
(`asyncio.to_thread`), where the verb's event loop runs while the test's serves the mock portals.

`run_process` starts `python -m syncd` for the few tests that must prove what only a process
shows: signals, a real process's exit code, the embedded server shut down at exit.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping

import structlog

from syncd.cli import main
from syncd.i18n import language, set_language

SYNCD = [sys.executable, "-m", "syncd"]
# JSON logs to read; the operator interface of `syncd run` on a free port (tests run in parallel
# with other services on this machine).
CLI_ENV = {"SYNCD_LOG_FORMAT": "json", "SYNCD_HTTP_PORT": "0"}

_ONE_AT_A_TIME = threading.Lock()


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    """`syncd ARGS` in this process: (exit code, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    with _ONE_AT_A_TIME, _environment({**CLI_ENV, **(env or {})}):
        logging, lang = structlog.get_config(), language()
        streams = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin or ""), out, err
        try:
            code = main(list(args))
        finally:
            sys.stdin, sys.stdout, sys.stderr = streams
            structlog.configure(**logging)  # main points the logs at `err`...
            set_language(lang)  # ...and sets the language of messages
    return code, out.getvalue(), err.getvalue()


def run_process(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, stdin: str | None = None
) -> tuple[int, str, str]:
    """`python -m syncd ARGS` as a child process: (exit code, standard output, standard error)."""
    done = subprocess.run(
        [*SYNCD, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **CLI_ENV, **(env or {})},
    )
    return done.returncode, done.stdout, done.stderr
