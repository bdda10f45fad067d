"""Serving the operator interface on a TCP port, beside the sync loop or alone."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL (port 0 picks a free port)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        addresses = runner.addresses
        bound = addresses[0][1] if addresses else port
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
