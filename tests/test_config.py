"""Configuration validation beyond types: every float key refuses NaN and the infinities."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from syncd import config as config_module
from syncd.config import Config, ConfigError


def float_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every float key of the configuration, dotted ("runtime.poll_interval_seconds")."""
    keys: list[str] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            keys += float_keys(tp, f"{prefix}{f.name}.")
        elif tp is float:
            keys.append(f"{prefix}{f.name}")
    return keys


KEYS = float_keys()


def test_there_are_float_keys_to_check() -> None:
    assert "runtime.poll_interval_seconds" in KEYS
    assert "portals.national.timeout_seconds" in KEYS
    assert len(KEYS) >= 20


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("key", KEYS)
def test_no_float_key_takes_a_value_that_is_not_finite(
    key: str, value: str, tmp_path: Path
) -> None:
    *tables, leaf = key.split(".")
    path = tmp_path / "bad.toml"
    path.write_text(f"[{'.'.join(tables)}]\n{leaf} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_module.load(path, env={})
    assert caught.value.key == key
    assert caught.value.where == str(path)


def test_nan_from_the_environment_is_refused_too() -> None:
    with pytest.raises(ConfigError) as caught:
        config_module.load(env={"SYNCD_POLL_INTERVAL": "nan"})
    assert caught.value.key == "runtime.poll_interval_seconds"
    assert caught.value.where == "SYNCD_POLL_INTERVAL"
