"""The README tells the truth about how the project is tested and configured."""

from __future__ import annotations

import re
from pathlib import Path

from syncd import config as config_module
from syncd.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_test_command() -> str:
    marker = README.index("<!-- test-command")
    block = re.search(r"```sh\n(.+?)\n```", README[marker:], re.DOTALL)
    assert block is not None
    return block.group(1)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = readme_test_command()
    assert "\n" not in command
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci_lines


def test_every_verb_is_documented() -> None:
    verbs = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert verbs
    for verb in verbs:
        assert f"| `{verb}" in README, verb


def test_every_environment_variable_is_documented() -> None:
    for variable in [*config_module.ENVIRONMENT, config_module.CONFIG_FILE_VARIABLE]:
        assert variable in README, variable


def test_every_configuration_table_is_documented() -> None:
    config = config_module.load(env={})
    sections = ("agency", "redis", "runtime", "log", "ui", "catalogue", "report", "reconcile")
    for section in (*sections, "writeback"):
        for key in vars(getattr(config, section)):
            assert f"`{section}.{key}" in README, f"{section}.{key}"
    for key in vars(config.mock):
        assert f"`mock.{key}" in README, f"mock.{key}"
    for key in config.mock.faults:
        assert f"`{key}`" in README, f"mock.faults.{key}"
    for key in vars(config.portals.city):
        assert f"`portals.city.{key}`" in README or f"`{key}`" in README, key


def test_every_http_route_of_the_api_and_operations_is_documented() -> None:
    import redis.asyncio as aioredis

    from syncd.store import Store
    from syncd.web.app import make_app

    app = make_app(Store(aioredis.Redis(), "readme"), config_module.load(env={}))
    documented = 0
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method == "HEAD" or not path.startswith(
            ("/api/", "/healthz", "/readyz", "/metrics")
        ):
            continue
        assert f"{route.method} {path}" in README or (
            route.method == "GET" and f"`{path}`" in README
        ), f"{route.method} {path}"
        documented += 1
    assert documented >= 20
