"""`syncd users` as a real process: accounts, roles, passwords, tokens; bad input exits 2."""

from __future__ import annotations

import asyncio

from syncd.store import Store
from syncd.web.auth import Users
from tests.commandline import run_cli
from tests.conftest import REDIS_URL


async def users_cli(store: Store, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    env = {"SYNCD_REDIS_URL": REDIS_URL, "SYNCD_KEY_PREFIX": store.prefix, "SYNCD_LANG": "en"}
    return await asyncio.to_thread(run_cli, "users", *args, env=env, stdin=stdin)


async def test_accounts_roles_passwords_and_tokens(store: Store) -> None:
    code, out, err = await users_cli(
        store,
        "add",
        "lan.nguyen",
        "--role",
        "operator",
        "--password-stdin",
        stdin="mật-khẩu-dài-1\n",
    )
    assert code == 0, err
    assert "lan.nguyen" in out
    users = Users(store)
    stored = await store.redis.hget(store.key("user", "lan.nguyen"), "password")
    assert stored is not None
    assert b"argon2id" in stored  # a hash, never the password
    assert await users.verify("lan.nguyen", "mật-khẩu-dài-1") is not None
    assert await users.verify("lan.nguyen", "wrong-password") is None

    code, out, _ = await users_cli(store, "list")
    assert out.split() == ["lan.nguyen", "operator"]
    code, _, _ = await users_cli(store, "role", "lan.nguyen", "admin")
    assert (await users.get("lan.nguyen")).role == "admin"  # type: ignore[union-attr]
    code, _, _ = await users_cli(
        store, "passwd", "lan.nguyen", "--password-stdin", stdin="một-mật-khẩu-mới\n"
    )
    assert code == 0
    assert await users.verify("lan.nguyen", "một-mật-khẩu-mới") is not None

    code, out, err = await users_cli(store, "token", "lan.nguyen", "--label", "report pull")
    token = out.strip()
    assert code == 0
    assert len(token) >= 40
    assert "not be shown again" in err
    assert (await users.by_token(token)).name == "lan.nguyen"  # type: ignore[union-attr]
    assert not await store.redis.exists(store.key("token", token))  # stored hashed

    code, _, _ = await users_cli(store, "remove", "lan.nguyen")
    assert code == 0
    assert await users.by_token(token) is None
    assert await users.verify("lan.nguyen", "một-mật-khẩu-mới") is None


async def test_bad_input_exits_2_and_changes_nothing(store: Store) -> None:
    cases = [
        (("add", "an", "--role", "operator", "--password-stdin"), "short\n", "10 characters"),
        (("add", "Bad Name", "--role", "viewer", "--password-stdin"), "long-enough-pw\n", "name"),
        (("remove", "nobody"), None, "nobody"),
        (("passwd", "nobody", "--password-stdin"), "long-enough-pw\n", "nobody"),
    ]
    for args, stdin, named in cases:
        code, out, err = await users_cli(store, *args, stdin=stdin)
        assert code == 2, (args, out, err)
        assert named in err
        assert "Traceback" not in err
    assert await Users(store).list() == []
    code, _, err = await users_cli(store, "add", "x1", "--role", "root")
    assert code == 2  # argparse refuses the role
