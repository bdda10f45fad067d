"""Leases: which process polls each portal, and which consumers of the work stream are alive.

Several `syncd run` processes may share one key prefix (a hot standby, or replicas of a city's
deployment). Each duty that must have one doer at a time (polling a portal, the periodic
maintenance: sweep and flag refresh) is held through a lease, a Redis key set with `SET NX PX`
semantics and renewed while held:

    {P}:lease:<duty>         STRING  "<fence>|<holder>", expiring after the lease period
    {P}:lease:<duty>:fence   STRING  the fencing counter, incremented at every new grant
    {P}:alive:<consumer>     STRING  "1", expiring after the lease period: the consumer (a
                                     process of the work stream's group) is alive

A lease's token carries its fence number: a holder whose lease expired (a long pause, a lost
network) and was granted to another can no longer write, because the writing scripts compare
the token they are handed with the lease's (`Store.upsert`). Renewing keeps the token; a new
grant, even to the same process after a lapse, gets a new one.

A consumer whose heartbeat key has expired, or which ran on this host under a process id that
no longer exists, is dead: its unacknowledged work is claimed at once by a live consumer
instead of waiting out the stream's idle time.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from syncd.store import GROUP, Store

_HOLD = """
-- KEYS: lease, fence; ARGV: holder, period (ms)
-- Renew the lease if `holder` holds it, else take it if free. Returns the token, or false.
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if string.sub(current, sep + 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  return false
end
local token = redis.call('INCR', KEYS[2]) .. '|' .. ARGV[1]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

_RELEASE = """
-- KEYS: lease; ARGV: token. Give the lease up only if this token still holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def consumer_name() -> str:
    """This process's name in the work stream's group: "<host>-<pid>"."""
    return f"{socket.gethostname()}-{os.getpid()}"


def holder_of(token: str | None) -> str | None:
    """The holder named by a lease token ("<fence>|<holder>")."""
    return token.partition("|")[2] if token else None


async def lease_holders(store: Store, duties: Iterable[str]) -> dict[str, str | None]:
    """Who holds each duty now (None: nobody)."""
    names = list(duties)
    tokens = await store.redis.mget([store.key("lease", d) for d in names])
    return {
        d: holder_of(t.decode() if isinstance(t, bytes) else t)
        for d, t in zip(names, tokens, strict=True)
    }


class Leases:
    def __init__(self, store: Store, holder: str, period: timedelta) -> None:
        self.store = store
        self.holder = holder
        self.period = period
        self._hold = store.redis.register_script(_HOLD)
        self._release = store.redis.register_script(_RELEASE)

    def _keys(self, duty: str) -> list[str]:
        return [self.store.key("lease", duty), self.store.key("lease", duty, "fence")]

    async def hold(self, duty: str) -> str | None:
        """Renew or take the lease of `duty`; its token while this process holds it, else
        None (another holds it)."""
        period_ms = max(1, int(self.period.total_seconds() * 1000))
        token: Any = await self._hold(keys=self._keys(duty), args=[self.holder, period_ms])
        return token.decode() if isinstance(token, bytes) else token or None

    async def release(self, duty: str, token: str) -> None:
        await self._release(keys=self._keys(duty)[:1], args=[token])

    async def retire(self) -> None:
        """This consumer stops: no heartbeat to wait out."""
        await self.store.redis.delete(self.store.key("alive", self.holder))

    async def heartbeat(self) -> None:
        """Say this consumer is alive for one more lease period."""
        period_ms = max(1, int(self.period.total_seconds() * 1000))
        await self.store.redis.set(self.store.key("alive", self.holder), "1", px=period_ms)

    async def claim_from_dead(self, batch: int = 1000) -> int:
        """Claim the unacknowledged work of consumers that are dead (see the module
        docstring) for this one, and drop them from the group; returns how many entries."""
        work = self.store.key("work")
        try:
            consumers: Any = await self.store.redis.xinfo_consumers(work, GROUP)
        except Exception:  # no stream or group yet: nothing to claim
            return 0
        claimed = 0
        for info in consumers:
            name = _text(info["name"])
            if name == self.holder or not await self._dead(name):
                continue
            while True:
                pending: Any = await self.store.redis.xpending_range(
                    work, GROUP, min="-", max="+", count=batch, consumername=name
                )
                ids = [p["message_id"] for p in pending]
                if not ids:
                    break
                await self.store.redis.xclaim(work, GROUP, self.holder, 0, ids, justid=True)
                claimed += len(ids)
            await self.store.redis.xgroup_delconsumer(work, GROUP, name)
        return claimed

    async def _dead(self, consumer: str) -> bool:
        host, _, pid = consumer.rpartition("-")
        if host == socket.gethostname() and pid.isdigit():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass  # alive, another user's
        return not await self.store.redis.exists(self.store.key("alive", consumer))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
