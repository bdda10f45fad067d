"""Routes of the operator interface: see syncd.web.app for how access is declared."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register this module's routes on `app`."""
