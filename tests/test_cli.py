"""The `syncd` command as a user runs it, on the real Redis: the entry point called in this
process (tests/commandline.py), and real processes where only a process shows it (signals, the
exit code of a process, a fast start)."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from connectors.mockserver import MockPortals
from reconcile.engine import MismatchKind
from syncd.embedded import redis_server_binary
from syncd.i18n import tr
from syncd.queue_states import STATES
from syncd.store import Store
from tests.commandline import CLI_ENV, SYNCD, run_cli, run_process
from tests.conftest import REDIS_URL
from tests.test_store import snapshot

# What `syncd --help` must not load: the verbs and what they use.
HEAVY = (
    "syncd.verbs",
    "syncd.web.app",
    "syncd.store",
    "aiohttp",
    "aiohttp_jinja2",
    "jinja2",
    "openpyxl",
    "redis",
    "connectors.mockserver",
    "connectors.city.mock",
    "connectors.national.mock",
    "argon2",
    "prometheus_client",
    "structlog",
)


class Daemon:
    """`syncd run` in a child process, its stderr log lines collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace"))

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    async def wait_for(self, text: str, times: int = 1, within: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while self.count(text) < times:
            if self.process.returncode is not None:
                await self._reader
                pytest.fail(f"syncd exited {self.process.returncode}:\n{''.join(self.lines)}")
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"no {text!r} x{times} within {within}s:\n{''.join(self.lines)}")
            await asyncio.sleep(0.05)

    async def stop(self, within: float = 10) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), within)
        await self._reader
        return code


async def start_daemon(env: dict[str, str], *args: str) -> Daemon:
    process = await asyncio.create_subprocess_exec(
        *SYNCD,
        "run",
        *args,
        env={**os.environ, **CLI_ENV, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Daemon(process)


def test_importing_the_command_loads_none_of_the_verbs_modules() -> None:
    listed = ", ".join(repr(name) for name in HEAVY)
    probe = (
        "import sys, syncd.cli\n"
        f"heavy = ({listed},)\n"
        "print(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_help_is_printed_and_main_returns_its_exit_codes() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    assert "mismatches" in out
    code, _, err = run_cli("no-such-verb")
    assert code == 2
    assert "no-such-verb" in err
    code, out, _ = run_cli("--lang", "en", "users", "--help")
    assert (code, "passwd" in out) == (0, True)


def test_the_queue_filters_name_every_state_and_kind_in_the_readers_language() -> None:
    code, out, _ = run_cli("mismatches", "list", "--help")
    assert code == 0
    said = " ".join(out.split())  # argparse wraps the help
    for state in STATES:
        assert f"{state} ({tr('vi', f'state.{state}')})" in said
    for kind in MismatchKind:
        assert f"{kind.value} ({tr('vi', f'kind.{kind.value}')})" in said
    code, out, _ = run_cli("--lang", "en", "mismatches", "list", "--help")
    said = " ".join(out.split())
    assert "open, claimed, pushing (being pushed to the national portal)" in said


def test_argparse_speaks_the_readers_language_too() -> None:
    code, _, err = run_cli("writeback", "--state", "nope")
    assert code == 2
    assert err.startswith("cách dùng: syncd writeback")
    assert err.endswith(
        "syncd writeback: lỗi: tham số --state: giá trị 'nope' không hợp lệ (chọn một trong: "
        "'pending', 'in_flight', 'failed', 'dry_run')\n"
    )
    code, _, err = run_cli("report")
    assert (code, err.splitlines()[-1]) == (
        2,
        "syncd report: lỗi: thiếu tham số bắt buộc: --period",
    )
    code, out, _ = run_cli("deadletters", "--help")
    assert (code, "tùy chọn:" in out, "hiện hướng dẫn này rồi thoát" in out) == (0, True, True)
    code, _, err = run_cli("--lang", "en", "report")
    assert (code, err.splitlines()[-1]) == (
        2,
        "syncd report: error: the following arguments are required: --period",
    )


def test_a_bad_config_file_gives_one_line_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[runtime]\npoll_interval_seconds = 'often'\n", encoding="utf-8")
    code, out, err = run_process("check-config", str(bad))  # a real process's exit code
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert str(bad) in err
    assert "runtime.poll_interval_seconds" in err
    assert "'often'" in err
    assert "Traceback" not in err


def test_a_bad_config_in_english(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[portals.city]\nbase_url = 'ftp://x'\n", encoding="utf-8")
    code, _, err = run_cli("--lang", "en", "--config", str(bad), "run", "--once")
    assert code == 2
    assert err.strip() == (
        f"Configuration error: {bad}: portals.city.base_url: "
        "expected an http:// or https:// URL, got 'ftp://x'"
    )


def test_a_bad_environment_variable_is_named() -> None:
    code, _, err = run_cli("check-config", env={"SYNCD_POLL_INTERVAL": "soon"})
    assert code == 2
    assert "SYNCD_POLL_INTERVAL: runtime.poll_interval_seconds" in err


def test_a_misspelled_environment_variable_is_warned_about() -> None:
    code, _out, err = run_cli("check-config", env={"SYNCD_LOGFORMAT": "json"})
    assert code == 0
    assert "SYNCD_LOGFORMAT" in err
    assert "bị bỏ qua" in err


def test_check_config_accepts_the_defaults_and_says_so_in_vietnamese() -> None:
    code, out, err = run_cli("check-config", env={"SYNCD_LANG": "vi"})
    assert code == 0, err
    assert out.startswith("Cấu hình hợp lệ: ")


def test_a_malformed_period_is_refused_clearly() -> None:
    code, _out, err = run_cli("report", "--period", "2024-7", env={"SYNCD_REDIS_URL": REDIS_URL})
    assert code == 2
    assert "Kỳ báo cáo không hợp lệ" in err
    assert "YYYY-MM" in err
    assert "Traceback" not in err


def demo_directories() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("syncd-demo-*"))


def test_demo_prints_the_report_for_july_2024_and_leaves_nothing_behind() -> None:
    before = demo_directories()
    code, out, err = run_cli("demo", "--dossiers", "120")
    assert code == 0, err
    assert "Kỳ báo cáo 2024-07: từ ngày 20/6/2024 đến ngày 19/7/2024" in out
    assert "Tổng cộng" in out
    assert "Sau đối soát" in out
    assert "dữ liệu tạm" in out
    code, out, err = run_cli("--lang", "en", "demo", "--dossiers", "120", "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    table = [line for line in lines if not line.startswith("#,")]
    assert table[0].startswith("No.,Field,Received: total")
    assert lines[0] == "#,Reporting period 2024-07: 20/6/2024 to 19/7/2024"
    assert "#,Final figures: both portals were read completely after the period ended" in out
    assert "SYNCD_KEY_PREFIX" not in out + err  # nothing kept, nothing to say
    assert demo_directories() <= before  # the temporary directories are gone


def test_a_kept_demo_says_how_to_read_its_data_again(tmp_path: Path) -> None:
    kept = tmp_path / "demo data"
    code, out, err = run_cli("--lang", "en", "demo", "--format", "json", "--data-dir", str(kept))
    assert code == 0, err
    figures = json.loads(out)["corrected"]["total"]["cells"]
    assert "To read it again" in err
    command = err.strip().splitlines()[-1].strip()
    assert command.endswith("syncd report --period 2024-07")
    env = dict(part.split("=", 1) for part in shlex.split(command) if "=" in part)
    assert env == {
        "SYNCD_REDIS_URL": "",
        "SYNCD_DATA_DIR": str(kept),
        "SYNCD_KEY_PREFIX": "syncd-demo",
    }
    code, again, err = run_cli("report", "--period", "2024-07", "--format", "json", env=env)
    assert code == 0, err
    assert json.loads(again)["corrected"]["total"]["cells"] == figures


async def test_run_stops_cleanly_on_sigterm_and_a_second_run_changes_nothing(
    daemon_env: dict[str, str], prefixed_store: Store
) -> None:
    daemon = await start_daemon(daemon_env)
    await daemon.wait_for('"cycle_done"', times=2)
    assert await daemon.stop(within=5) == 0
    assert daemon.count('"syncd_stopped"') == 1
    assert not any("Traceback" in line for line in daemon.lines)

    before = await snapshot(prefixed_store)
    code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=daemon_env)
    assert code == 0, err
    after = await snapshot(prefixed_store)
    status = prefixed_store.key("status").encode()
    before.pop(status), after.pop(status)
    assert after == before
    assert '"reconciled": 0' in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_private_redis(port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        str(redis_server_binary()),
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    client = aioredis.from_url(f"redis://127.0.0.1:{port}/0")
    for _ in range(100):
        try:
            await client.ping()
            break
        except (OSError, redis.exceptions.ConnectionError):
            await asyncio.sleep(0.05)
    await client.aclose()
    return process


async def test_a_redis_outage_is_waited_out_without_a_traceback_storm(
    daemon_env: dict[str, str],
) -> None:
    port = free_port()
    redis_process = await start_private_redis(port)
    env = {**daemon_env, "SYNCD_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    daemon = await start_daemon(env)
    try:
        await daemon.wait_for('"cycle_done"')
        redis_process.kill()
        await redis_process.wait()
        await daemon.wait_for('"redis_unavailable"', times=2, within=30)
        redis_process = await start_private_redis(port)
        await daemon.wait_for('"redis_recovered"', within=60)
        cycles = daemon.count('"cycle_done"')
        await daemon.wait_for('"cycle_done"', times=cycles + 1)
        assert await daemon.stop() == 0
    finally:
        if daemon.process.returncode is None:
            daemon.process.kill()
        redis_process.kill()
        await redis_process.wait()
    assert not any("Traceback" in line for line in daemon.lines)
    outage = [line for line in daemon.lines if '"redis_unavailable"' in line]
    assert all('"level": "warning"' in line for line in outage)
    assert len(outage) < 20  # backoff, not a storm


async def test_without_a_redis_url_run_uses_an_embedded_server_that_keeps_its_data(
    portals: MockPortals, tmp_path: Path
) -> None:
    env = {
        "SYNCD_REDIS_URL": "",
        "SYNCD_DATA_DIR": str(tmp_path / "data"),
        "SYNCD_CITY_URL": portals.city_url,
        "SYNCD_NATIONAL_URL": portals.national_url,
    }
    code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=env)
    assert code == 0, err
    assert (tmp_path / "data" / "appendonly.aof").stat().st_size > 0
    assert not (tmp_path / "data" / "redis.sock").exists()  # the server was shut down
    code, out, err = await asyncio.to_thread(
        run_cli, "report", "--period", "2024-07", "--format", "json", env=env
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["period"]["label"] == "2024-07"
    assert report["corrected"]["total"]["cells"]["3"] > 0


def test_run_with_its_http_port_taken_says_so_and_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"SYNCD_REDIS_URL": REDIS_URL, "SYNCD_HTTP_PORT": str(port)}
        code, _, err = run_cli("--lang", "en", "run", env=env)
    assert code == 2
    assert f"127.0.0.1:{port}" in err
    assert "http.port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("key", "value"),
    [("login_delay_max_seconds", "0"), ("login_address_attempts", "0"), ("login_attempts", "'5'")],
)
def test_the_login_throttling_keys_are_checked_at_start_up(
    tmp_path: Path, key: str, value: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[http]\n{key} = {value}\n", encoding="utf-8")
    code, _, err = run_cli("--lang", "en", "check-config", str(bad))
    assert code == 2
    assert f"http.{key}" in err
