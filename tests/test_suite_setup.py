"""The README's test command passes on a machine with nothing running: with no Redis at
SYNCD_TEST_REDIS_URL, the test session runs syncd's embedded redis-server and stops it after."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once the socket is closed


def test_without_a_redis_the_session_runs_the_embedded_server_and_stops_it() -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/test_store.py", "-v"],
        cwd=ROOT,
        env={**os.environ, "SYNCD_TEST_REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    header = re.search(r"redis: nothing answers at (\S+); .* \(pid (\d+)\)", done.stdout)
    assert header, done.stdout[:2000]
    assert header[1] == url
    assert " passed" in done.stdout
    assert " error" not in done.stdout
    pid = int(header[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass  # stopped at the end of the session
    else:
        raise AssertionError(f"the embedded redis-server (pid {pid}) outlived the session")
