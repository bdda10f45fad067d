"""Users, roles, API tokens, sessions and login throttling, kept in Redis.

Roles are ordered: viewer (read) < operator (claim, resolve, reopen) < admin (publish, resync,
users). Passwords are hashed with Argon2id (argon2-cffi, its recommended parameters); API tokens
are random 256-bit strings shown once and stored as their SHA-256 (a token has no dictionary to
guess from, so a fast hash is enough and lets a request be checked in one lookup).

Keys (P is the store's prefix):

    {P}:user:<name>       HASH  role, password (Argon2 hash), created
    {P}:users             SET   user names
    {P}:token:<sha256>    HASH  user, created, label
    {P}:session:<id>      HASH  user, csrf, created; expires after the session lifetime
    {P}:login:<who>       STRING failed attempts in the current window (expires with it)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.store import Store

ROLES = ("viewer", "operator", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10


class AuthError(ValueError):
    """Bad input to user management (an unknown user, a weak password, a bad role)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user: User
    csrf: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(self, store: Store, session_seconds: int = 8 * 3600) -> None:
        self.store = store
        self.redis = store.redis
        from argon2 import PasswordHasher  # here: `syncd --help` starts without argon2

        self.hasher = PasswordHasher()
        self.session_seconds = session_seconds

    # --- users ---------------------------------------------------------------------------

    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.fullmatch(name):
            raise AuthError(f"user name {name!r}: 2-64 of a-z, 0-9, '.', '_', '-'")
        return name

    @staticmethod
    def check_role(role: str) -> str:
        if role not in ROLES:
            raise AuthError(f"role {role!r}: one of {', '.join(ROLES)}")
        return role

    @staticmethod
    def check_password(password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"the password needs at least {MIN_PASSWORD} characters")
        return password

    async def add(self, name: str, role: str, password: str) -> User:
        self.check_name(name)
        self.check_role(role)
        self.check_password(password)
        created = await self.redis.hsetnx(self.store.key("user", name), "role", role)
        if not created:
            raise AuthError(f"user {name!r} exists")
        await self.redis.hset(
            self.store.key("user", name),
            mapping={
                "password": self.hasher.hash(password),
                "created": datetime.now(UTC).isoformat(),
            },
        )
        await self.redis.sadd(self.store.key("users"), name)
        return User(name, role)

    async def get(self, name: str) -> User | None:
        role = await self.redis.hget(self.store.key("user", name), "role")
        return User(name, _text(role)) if role else None

    async def remove(self, name: str) -> None:
        if not await self.redis.delete(self.store.key("user", name)):
            raise AuthError(f"no user {name!r}")
        await self.redis.srem(self.store.key("users"), name)
        async for key in self.redis.scan_iter(match=self.store.key("token", "*"), count=1000):
            if _text(await self.redis.hget(key, "user") or b"") == name:
                await self.redis.delete(key)

    async def list(self) -> list[User]:
        names = sorted(_text(n) for n in await self.redis.smembers(self.store.key("users")))
        found = [await self.get(name) for name in names]
        return [u for u in found if u is not None]

    async def set_password(self, name: str, password: str) -> None:
        self.check_password(password)
        if await self.get(name) is None:
            raise AuthError(f"no user {name!r}")
        await self.redis.hset(self.store.key("user", name), "password", self.hasher.hash(password))

    async def set_role(self, name: str, role: str) -> None:
        self.check_role(role)
        if await self.get(name) is None:
            raise AuthError(f"no user {name!r}")
        await self.redis.hset(self.store.key("user", name), "role", role)

    async def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs; None otherwise (unknown user included)."""
        raw = (
            await self.redis.hgetall(self.store.key("user", name)) if _NAME.fullmatch(name) else {}
        )
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "password" not in fields:
            self.hasher.hash(password)  # as slow as a real check: no timing hint of who exists
            return None
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            self.hasher.verify(fields["password"], password)
        except (VerificationError, InvalidHashError):
            return None
        if self.hasher.check_needs_rehash(fields["password"]):
            await self.redis.hset(
                self.store.key("user", name), "password", self.hasher.hash(password)
            )
        return User(name, fields["role"])

    # --- tokens --------------------------------------------------------------------------

    async def add_token(self, name: str, label: str = "") -> str:
        if await self.get(name) is None:
            raise AuthError(f"no user {name!r}")
        token = secrets.token_urlsafe(32)
        await self.redis.hset(
            self.store.key("token", _digest(token)),
            mapping={"user": name, "label": label, "created": datetime.now(UTC).isoformat()},
        )
        return token

    async def by_token(self, token: str) -> User | None:
        name = await self.redis.hget(self.store.key("token", _digest(token)), "user")
        return await self.get(_text(name)) if name else None

    # --- sessions ------------------------------------------------------------------------

    async def open_session(self, user: User) -> Session:
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        key = self.store.key("session", _digest(sid))
        await self.redis.hset(
            key, mapping={"user": user.name, "csrf": csrf, "created": datetime.now(UTC).isoformat()}
        )
        await self.redis.expire(key, self.session_seconds)
        return Session(sid, user, csrf)

    async def session(self, sid: str) -> Session | None:
        raw = await self.redis.hgetall(self.store.key("session", _digest(sid)))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "user" not in fields:
            return None
        user = await self.get(fields["user"])
        return Session(sid, user, fields["csrf"]) if user else None

    async def close_session(self, sid: str) -> None:
        await self.redis.delete(self.store.key("session", _digest(sid)))

    # --- login throttling ----------------------------------------------------------------

    async def login_allowed(self, who: str, attempts: int) -> bool:
        raw = await self.redis.get(self.store.key("login", who))
        return raw is None or int(raw) < attempts

    async def login_failed(self, who: str, window_seconds: int) -> None:
        key = self.store.key("login", who)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds, nx=True)
            await pipe.execute()

    async def login_succeeded(self, who: str) -> None:
        await self.redis.delete(self.store.key("login", who))
