"""docker-compose.yml and the Dockerfile, checked against the real CLI and configuration.

No Docker engine runs here or in CI, so nothing else would notice a compose file that names a verb,
a flag, an environment variable, a service or a path that the code no longer has. These tests read
both files as data and feed what they say to `syncd.cli.build_parser` and `syncd.config.load`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shlex
import tomllib
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from syncd import cli
from syncd import config as config_module
from syncd.config import CONFIG_FILE_VARIABLE, ENVIRONMENT, Config, ConfigError

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
REDIS_DEFAULT_PORT = 6379
# i18n reads SYNCD_LANG itself too; it is also in ENVIRONMENT (ui.language).
ACCEPTED_VARIABLES = frozenset(ENVIRONMENT) | {CONFIG_FILE_VARIABLE, "SYNCD_LANG"}


# --- reading the Dockerfile -------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    """The JSON array of the last `keyword` line (the one Docker uses)."""
    found = [arguments for name, arguments in instructions if name == keyword]
    assert found, f"the Dockerfile has no {keyword}"
    value = json.loads(found[-1]) if found[-1].startswith("[") else None
    assert isinstance(value, list), f"{keyword} must be a JSON array (exec form): {found[-1]}"
    assert all(isinstance(part, str) for part in value), f"{keyword}: {value}"
    return value


def workdir(instructions: list[tuple[str, str]]) -> PurePosixPath:
    found = [arguments for name, arguments in instructions if name == "WORKDIR"]
    assert found, "the Dockerfile has no WORKDIR"
    return PurePosixPath(found[-1])


def copies(instructions: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY/ADD from the build context (not from a stage)."""
    result = []
    for name, arguments in instructions:
        if name not in ("COPY", "ADD"):
            continue
        words = arguments.split()
        flags = list(itertools.takewhile(lambda word: word.startswith("--"), words))
        rest = arguments.split(None, len(flags))[-1] if flags else arguments
        if any(flag.startswith("--from") for flag in flags):
            continue
        words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
        assert len(words) >= 2, f"{name} {arguments}: needs a source and a destination"
        result.append((words[:-1], words[-1]))
    return result


def image_path(source: str, destination: str, several: bool, base: PurePosixPath) -> PurePosixPath:
    """Where COPY puts `source`: a directory's contents go to the destination itself."""
    target = base / destination
    if (ROOT / source).is_dir() or not (destination.endswith("/") or several):
        return target
    return target / PurePosixPath(source).name


# --- reading the compose file -----------------------------------------------------------------


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(compose, dict), "docker-compose.yml is not a mapping"
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


@pytest.fixture(scope="module")
def built(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services that run this repository's image (built from `.` with its Dockerfile)."""
    result = {}
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        assert (ROOT / context).resolve() == ROOT, f"{name}: builds from {context}, not ."
        assert dockerfile in (None, "Dockerfile"), f"{name}: builds from {dockerfile}"
        result[name] = service
    # Without these the loops below would pass on nothing.
    assert {"syncd", "mock-portals"} <= set(result), f"services built from .: {sorted(result)}"
    return result


def command_of(name: str, service: Mapping[str, Any], default: list[str]) -> list[str]:
    command = service.get("command", default)
    assert isinstance(command, list), f"{name}: command must be in list form, not {command!r}"
    assert all(isinstance(part, str) for part in command), f"{name}: {command!r}"
    return command


def environment_of(name: str, service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), f"{name}: environment must be in mapping form"
    for variable, value in environment.items():
        # YAML would turn 30 into an int and `on` into True: quoted, the container sees the text.
        assert isinstance(value, str), f"{name}: {variable}={value!r} must be a quoted string"
    return environment


def parse_cli(name: str, argv: list[str]) -> Namespace:
    """argparse's verdict on `syncd ARGV`, its complaint turned into a failure naming `name`."""
    complaint = io.StringIO()
    try:
        with contextlib.redirect_stderr(complaint), contextlib.redirect_stdout(complaint):
            return cli.build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{name}: `syncd {shlex.join(argv)}` is refused: {complaint.getvalue()}")


def unknown_variables(environment: Mapping[str, str]) -> list[str]:
    return sorted(set(environment) - ACCEPTED_VARIABLES)


def load_in_container(name: str, environment: Mapping[str, str], base: PurePosixPath) -> Config:
    """`config.load` as the container runs it: a SYNCD_CONFIG inside the image read from here."""
    env = dict(environment)
    if CONFIG_FILE_VARIABLE in env:
        in_image = base / env[CONFIG_FILE_VARIABLE]
        assert in_image.is_relative_to(base), f"{name}: {CONFIG_FILE_VARIABLE} outside {base}"
        env[CONFIG_FILE_VARIABLE] = str(ROOT / in_image.relative_to(base))
    return config_module.load(env=env)


def setting(config: Config, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


# --- the tests --------------------------------------------------------------------------------


def test_entrypoint_is_the_syncd_console_script(instructions: list[tuple[str, str]]) -> None:
    assert exec_form(instructions, "ENTRYPOINT") == ["syncd"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert scripts.get("syncd") == "syncd.cli:main"


def test_every_command_is_accepted_by_the_cli(
    instructions: list[tuple[str, str]], built: dict[str, dict[str, Any]]
) -> None:
    entrypoint = exec_form(instructions, "ENTRYPOINT")
    default = exec_form(instructions, "CMD")
    assert entrypoint == ["syncd"]
    # The image's own default (`docker run IMAGE`) and every service's command.
    parse_cli("Dockerfile CMD", default)
    for name, service in built.items():
        parse_cli(name, command_of(name, service, default))


def test_every_environment_variable_is_accepted(built: dict[str, dict[str, Any]]) -> None:
    for name, service in built.items():
        environment = environment_of(name, service)
        assert not unknown_variables(environment), (
            f"{name}: not read by syncd: {unknown_variables(environment)}"
        )


def test_a_misspelled_variable_name_is_caught_here_because_load_ignores_it() -> None:
    misspelled = {"SYNCD_LOGFORMAT": "jsn"}
    assert unknown_variables(misspelled) == ["SYNCD_LOGFORMAT"]
    # config.load reads only the names it knows: the misspelling alone would go unnoticed.
    assert config_module.load(env=misspelled) == config_module.load(env={})


def test_every_environment_loads_into_the_configuration(
    instructions: list[tuple[str, str]], built: dict[str, dict[str, Any]]
) -> None:
    base = workdir(instructions)
    for name, service in built.items():
        environment = environment_of(name, service)
        config = load_in_container(name, environment, base)
        for variable, value in environment.items():
            if variable not in ENVIRONMENT:
                continue
            actual = setting(config, ENVIRONMENT[variable])
            expected = type(actual)(value) if isinstance(actual, int | float) else value.strip()
            assert actual == expected, f"{name}: {variable}={value!r} gave {actual!r}"


def test_the_syncd_service_uses_the_compose_redis_and_mock_portals(
    instructions: list[tuple[str, str]], built: dict[str, dict[str, Any]]
) -> None:
    config = load_in_container(
        "syncd", environment_of("syncd", built["syncd"]), workdir(instructions)
    )
    assert config.redis.url == "redis://redis:6379/0"
    assert config.portals.city.base_url == "http://mock-portals:8081"
    assert config.portals.national.base_url == "http://mock-portals:8082"
    assert config.runtime.poll_interval_seconds == 30.0
    assert config.log.format == "json"

    mocks = load_in_container(
        "mock-portals", environment_of("mock-portals", built["mock-portals"]), workdir(instructions)
    )
    assert mocks.ui.language == "vi"


def test_addresses_name_services_and_ports_of_the_compose_file(
    instructions: list[tuple[str, str]],
    services: dict[str, dict[str, Any]],
    built: dict[str, dict[str, Any]],
) -> None:
    environment = environment_of("syncd", built["syncd"])
    for variable in ("SYNCD_REDIS_URL", "SYNCD_CITY_URL", "SYNCD_NATIONAL_URL"):
        # The defaults (embedded Redis, 127.0.0.1) would be the syncd container itself.
        assert variable in environment, f"syncd: {variable} is not set"

    redis_url = urlsplit(environment["SYNCD_REDIS_URL"])
    assert redis_url.hostname in services, f"SYNCD_REDIS_URL: no service {redis_url.hostname}"
    redis = services[redis_url.hostname]
    assert str(redis.get("image", "")).startswith("redis:"), f"{redis_url.hostname} is not Redis"
    redis_command = [str(part) for part in redis.get("command", [])]
    redis_port = (
        int(redis_command[redis_command.index("--port") + 1])
        if "--port" in redis_command
        else REDIS_DEFAULT_PORT
    )
    assert (redis_url.port or REDIS_DEFAULT_PORT) == redis_port, "SYNCD_REDIS_URL: wrong port"
    assert redis_url.hostname in built["syncd"].get("depends_on", {}), "syncd: no depends_on redis"

    default = exec_form(instructions, "CMD")
    for variable, flag in (
        ("SYNCD_CITY_URL", "city_port"),
        ("SYNCD_NATIONAL_URL", "national_port"),
    ):
        url = urlsplit(environment[variable])
        assert url.hostname in built, f"{variable}: no service {url.hostname} built from ."
        mock = built[url.hostname]
        args = parse_cli(url.hostname, command_of(url.hostname, mock, default))
        assert args.verb == "mock-portals", f"{variable}: {url.hostname} does not serve the mocks"
        # 127.0.0.1 inside the mock container would be unreachable from the syncd container.
        assert args.host == "0.0.0.0", f"{url.hostname}: --host {args.host}"
        assert url.port == getattr(args, flag), f"{variable}: port {url.port}, mock {flag} differs"
        published = {
            str(port["target"]) if isinstance(port, dict) else str(port).rpartition(":")[2]
            for port in mock.get("ports", [])
        }
        assert str(url.port) in published, f"{url.hostname}: port {url.port} is not published"


def test_every_path_the_dockerfile_copies_exists(instructions: list[tuple[str, str]]) -> None:
    sources = [source for group, _ in copies(instructions) for source in group]
    assert sources, "the Dockerfile copies nothing"
    missing = [source for source in sources if not (ROOT / source).exists()]
    assert not missing, f"the Dockerfile copies paths the repository lacks: {missing}"


def test_the_image_holds_what_pip_install_dot_needs(instructions: list[tuple[str, str]]) -> None:
    """Each file or package directory that pyproject.toml names lands at its place in WORKDIR."""
    base = workdir(instructions)
    placed = {
        PurePosixPath(source.rstrip("/")): image_path(source, destination, len(group) > 1, base)
        for group, destination in copies(instructions)
        for source in group
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {package.split(".")[0] for package in setuptools["packages"]}
    needed |= {directory.split("/")[0] for directory in setuptools.get("package-dir", {}).values()}
    for path in sorted(needed):
        assert PurePosixPath(path) in placed, f"the Dockerfile does not copy {path}"
        landed = placed[PurePosixPath(path)]
        assert landed == base / path, f"{path} lands at {landed}, not {base / path}"


def test_a_bad_value_in_the_syncd_environment_is_refused_with_key_and_variable(
    instructions: list[tuple[str, str]], built: dict[str, dict[str, Any]]
) -> None:
    environment = environment_of("syncd", built["syncd"]) | {"SYNCD_LOG_FORMAT": "jsn"}
    with pytest.raises(ConfigError) as refused:
        load_in_container("syncd", environment, workdir(instructions))
    assert "log.format" in str(refused.value)
    assert "SYNCD_LOG_FORMAT" in str(refused.value)


def test_the_operator_interface_is_published_where_syncd_listens(
    instructions: list[tuple[str, str]], built: dict[str, dict[str, Any]]
) -> None:
    service = built["syncd"]
    config = load_in_container("syncd", environment_of("syncd", service), workdir(instructions))
    assert config.http.enabled
    # Inside a container, listening on loopback would make the published port unreachable.
    assert config.http.host == "0.0.0.0"
    published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
    assert str(config.http.port) in published, "syncd: the interface's port is not published"
    probe = " ".join(str(part) for part in service["healthcheck"]["test"])
    assert f"127.0.0.1:{config.http.port}/readyz" in probe, "syncd: the healthcheck misses /readyz"
