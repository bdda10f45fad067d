"""Dependencies point one way (syncd -> connectors -> reconcile) and reconcile/ does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_MODULES = {
    "aiohttp", "redis", "structlog", "tenacity", "asyncio", "os", "sys", "socket", "subprocess",
    "time", "random", "pathlib", "io", "logging", "urllib", "http", "tempfile", "shutil",
}  # fmt: skip
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
# Reading the clock is calling one of those on the module or class (`time.time()`,
# `datetime.now()`); `when.time()`, the time of day of a value, is not.
CLOCK_OWNERS = {"time", "datetime", "date"}
FORBIDDEN = {
    "reconcile": IO_MODULES | {"connectors", "syncd"},
    "connectors": {"syncd"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def clock_calls_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.name}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_CALLS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in CLOCK_OWNERS
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_it_must_not(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offences = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in imports_of(path) & FORBIDDEN[package]
    }
    assert not offences


def test_reconcile_never_reads_the_clock() -> None:
    offences = [c for path in (ROOT / "reconcile").rglob("*.py") for c in clock_calls_in(path)]
    assert not offences


def test_the_checks_can_fail(tmp_path: Path) -> None:
    impure = tmp_path / "impure.py"
    impure.write_text(
        "import redis.asyncio\nfrom datetime import datetime\nx = datetime.now()\ny = x.time()\n"
    )
    assert "redis" in imports_of(impure)
    assert clock_calls_in(impure) == ["impure.py:3 .now()"]
