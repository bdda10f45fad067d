"""Users, roles, API tokens, sessions and login throttling, kept in Redis.

Roles are ordered: viewer (read) < operator (claim, resolve, reopen) < admin (publish, resync,
users). Passwords are hashed with Argon2id (argon2-cffi, its recommended parameters); API tokens
are random 256-bit strings shown once and stored as their SHA-256 (a token has no dictionary to
guess from, so a fast hash is enough and lets a request be checked in one lookup).

Sessions and tokens belong to one generation of an account: a random value drawn when the
account is added and drawn again when its password or role changes or an administrator logs it
out. Each session and token records the generation it was issued in, and a request is accepted
only while it is the account's current one; so removing a user and adding the name again,
changing a password or a role, ends every session and token issued before, however many
processes serve the interface. `{P}:issued:<name>` lists them, for `users sessions` and for
deleting them.

Keys (P is the store's prefix):

    {P}:user:<name>       HASH  role, password (Argon2 hash), created, generation
    {P}:users             SET   user names
    {P}:token:<sha256>    HASH  user, generation, created, label
    {P}:session:<sha256>  HASH  user, generation, csrf, created; expires after the session
                                lifetime
    {P}:issued:<name>     SET   "session:<sha256>" and "token:<sha256>" issued to the user (the
                                expired ones are dropped when read)
    {P}:login:pair:<h>    HASH  failures, last (epoch seconds): failed logins in a row of one
                                (user name, client address) pair, h a hash of both
    {P}:login:addr:<h>    ZSET  failed logins from one client address within the window (epoch
                                seconds), h a hash of the address

Login throttling reads the time from the clock the Users object is given (the application's),
so that tests move time rather than wait; the keys' expiry only frees memory.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from syncd.i18n import t

if TYPE_CHECKING:
    from syncd.config import HttpConfig
    from syncd.store import Store

ROLES = ("viewer", "operator", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Login throttling (the `http.login_*` keys, README "Operator interface").

    Failures are counted per pair of user name and client address: after `attempts` failures
    in a row the pair must wait 1 s after the next failure, then 2, 4, 8 ... seconds, at most
    `delay_max`; a success ends the count, and the failures are forgotten `window` seconds after
    the wait they caused. So a guesser slows only their own pair: nobody can lock someone else's
    name. An address is refused altogether, until `window` seconds after its oldest counted
    failure, only once `address_attempts` failures came from it within `window` seconds, far
    above one person's typing."""

    attempts: int = 5
    window: float = 300
    delay_max: float = 900
    address_attempts: int = 100

    @classmethod
    def of(cls, http: HttpConfig) -> LoginPolicy:
        return cls(
            http.login_attempts,
            http.login_window_seconds,
            http.login_delay_max_seconds,
            http.login_address_attempts,
        )

    def delay(self, failures: int) -> float:
        """How long a pair must wait after its last failure, having failed `failures` times."""
        over = failures - self.attempts
        return 0.0 if over < 0 else min(self.delay_max, 2.0 ** min(over, 40))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a login may not be tried now: `reason` "pair" (this name from this address failed
    `failures` times in a row) or "address" (`failures` failed logins from the address within
    the window), and when it may be tried again."""

    reason: str
    failures: int
    until: datetime


class AuthError(ValueError):
    """Bad input to user management (an unknown user, a weak password, a bad role). The text is
    in the current language (syncd.i18n); `message` names it for programs."""

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = values
        super().__init__(t(message, **values))


# What makes a password guessable, by zxcvbn's name for the pattern it found, in the order they
# are reported (the first found wins).
WEAKNESSES = ("passwords", "user_inputs", "repeat", "sequence", "spatial", "date")
# Words a guesser tries first here besides the user's own name.
LOCAL_WORDS = ("syncd", "matkhau", "mat-khau", "admin", "quantri", "motcua", "dvcqg")
MIN_SCORE = 3  # of zxcvbn's 0-4: at least 10^8 guesses


def password_weakness(password: str, name: str = "") -> str | None:
    """Why `password` is too weak (a `auth.weak.*` message key), or None if it will do: at
    least MIN_PASSWORD characters, and zxcvbn (the common-password and word lists it ships, and
    repeats, sequences, keyboard rows and dates) scores it at least MIN_SCORE."""
    if len(password) < MIN_PASSWORD:
        return "auth.short_password"
    from zxcvbn import zxcvbn  # here: its word lists load only when a password is set

    found = zxcvbn(password[:100], user_inputs=[name, *name.split("."), *LOCAL_WORDS])
    if found["score"] >= MIN_SCORE:
        return None
    patterns = set()
    for match in found["sequence"]:
        patterns.add(match.get("dictionary_name") or match["pattern"])
    return next((f"auth.weak.{p}" for p in WEAKNESSES if p in patterns), "auth.weak.guessable")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    generation: str = ""  # of the account when read (see the module's docstring)

    def can(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user: User
    csrf: str


@dataclass(frozen=True, slots=True)
class Credential:
    """A session or token issued to a user, as `users sessions` lists it (never the secret)."""

    kind: str  # "session" or "token"
    id: str  # the first 12 hex digits of the secret's SHA-256: enough to tell them apart
    created: str  # ISO 8601
    expires: str | None  # sessions: when it ends unless used to log out first
    label: str  # tokens: what the administrator called it


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    def __init__(
        self,
        store: Store,
        session_seconds: int = 8 * 3600,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.store = store
        self.redis = store.redis
        from argon2 import PasswordHasher  # here: `syncd --help` starts without argon2

        self.hasher = PasswordHasher()
        self.session_seconds = session_seconds

    # --- users ---------------------------------------------------------------------------

    @staticmethod
    def check_name(name: str) -> str:
        if not USER_NAME.fullmatch(name):
            raise AuthError("auth.bad_name", name=name)
        return name

    @staticmethod
    def check_role(role: str) -> str:
        if role not in ROLES:
            raise AuthError("auth.bad_role", role=role, roles=", ".join(ROLES))
        return role

    @staticmethod
    def check_password(password: str, name: str = "") -> str:
        """`password` if the policy takes it (see password_weakness), else AuthError."""
        weakness = password_weakness(password, name)
        if weakness is not None:
            raise AuthError("auth.weak_password", why=t(weakness, min=MIN_PASSWORD))
        return password

    def _now(self) -> datetime:
        return self.clock()

    async def add(self, name: str, role: str, password: str) -> User:
        self.check_name(name)
        self.check_role(role)
        self.check_password(password, name)
        created = await self.redis.hsetnx(self.store.key("user", name), "role", role)
        if not created:
            raise AuthError("auth.exists", name=name)
        generation = secrets.token_hex(16)
        await self.redis.hset(
            self.store.key("user", name),
            mapping={
                "password": self.hasher.hash(password),
                "created": self._now().isoformat(),
                "generation": generation,
            },
        )
        await self.redis.sadd(self.store.key("users"), name)
        return User(name, role, generation)

    async def get(self, name: str) -> User | None:
        role, generation = await self.redis.hmget(
            self.store.key("user", name), ["role", "generation"]
        )
        return User(name, _text(role), _text(generation or b"")) if role else None

    async def _existing(self, name: str) -> User:
        user = await self.get(name)
        if user is None:
            raise AuthError("auth.no_user", name=name)
        return user

    async def remove(self, name: str) -> None:
        """Remove the account and every session and token issued to it."""
        if not await self.redis.delete(self.store.key("user", name)):
            raise AuthError("auth.no_user", name=name)
        await self.redis.srem(self.store.key("users"), name)
        await self._end_issued(name)

    async def credentials(self, name: str) -> list[Credential]:
        """The user's live sessions and tokens, oldest first."""
        await self._existing(name)
        index = self.store.key("issued", name)
        members = sorted(_text(m) for m in await self.redis.smembers(index))
        found: list[Credential] = []
        gone: list[str] = []
        for member in members:
            kind, digest = member.split(":", 1)
            key = self.store.key(kind, digest)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(key)
                pipe.ttl(key)
                raw, ttl = await pipe.execute()
            fields = {_text(k): _text(v) for k, v in raw.items()}
            if fields.get("user") != name:
                gone.append(member)
                continue
            expires = None
            if kind == "session" and ttl is not None and int(ttl) > 0:
                expires = (self._now() + timedelta(seconds=int(ttl))).isoformat()
            found.append(
                Credential(
                    kind, digest[:12], fields.get("created", ""), expires, fields.get("label", "")
                )
            )
        if gone:
            await self.redis.srem(index, *gone)
        return sorted(found, key=lambda c: (c.created, c.kind, c.id))

    async def list(self) -> list[User]:
        names = sorted(_text(n) for n in await self.redis.smembers(self.store.key("users")))
        found = [await self.get(name) for name in names]
        return [u for u in found if u is not None]

    async def set_password(self, name: str, password: str) -> int:
        """Set a new password; every session and token issued before ends (how many)."""
        self.check_password(password, name)
        await self._existing(name)
        return await self._new_generation(name, password=self.hasher.hash(password))

    async def set_role(self, name: str, role: str) -> int:
        """Change the role; every session and token issued before ends (how many)."""
        self.check_role(role)
        await self._existing(name)
        return await self._new_generation(name, role=role)

    async def logout(self, name: str) -> int:
        """End every session and token of the user; how many there were."""
        await self._existing(name)
        return await self._new_generation(name)

    async def _new_generation(self, name: str, **fields: str) -> int:
        mapping: dict[Any, Any] = {**fields, "generation": secrets.token_hex(16)}
        await self.redis.hset(self.store.key("user", name), mapping=mapping)
        return await self._end_issued(name)

    async def _end_issued(self, name: str) -> int:
        """Delete the sessions and tokens issued to `name` (they are refused already once the
        generation changed; this frees them); how many were still alive."""
        index = self.store.key("issued", name)
        members = [_text(m) for m in await self.redis.smembers(index)]
        keys = [self.store.key(*member.split(":", 1)) for member in members]
        alive = int(await self.redis.delete(*keys)) if keys else 0
        await self.redis.delete(index)
        return alive

    async def verify(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs; None otherwise (unknown user included)."""
        raw = (
            await self.redis.hgetall(self.store.key("user", name))
            if USER_NAME.fullmatch(name)
            else {}
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
        return User(name, fields["role"], fields.get("generation", ""))

    # --- sessions and tokens -------------------------------------------------------------

    async def _issue(self, kind: str, secret: str, user: User, **fields: str) -> str:
        """Store a session or token of `user`'s generation; its key."""
        digest = _digest(secret)
        key = self.store.key(kind, digest)
        mapping: dict[Any, Any] = {
            "user": user.name,
            "generation": user.generation,
            "created": self._now().isoformat(),
            **fields,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            if kind == "session":
                pipe.expire(key, self.session_seconds)
            pipe.sadd(self.store.key("issued", user.name), f"{kind}:{digest}")
            await pipe.execute()
        return key

    async def _holder(self, key: str) -> tuple[User, dict[str, str]] | None:
        """The user a session or token belongs to, if it was issued in the account's current
        generation; a stale one is deleted."""
        raw = await self.redis.hgetall(key)
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "user" not in fields:
            return None
        user = await self.get(fields["user"])
        if user is None or user.generation != fields.get("generation", ""):
            await self.redis.delete(key)
            return None
        return user, fields

    async def add_token(self, name: str, label: str = "") -> str:
        user = await self._existing(name)
        token = secrets.token_urlsafe(32)
        await self._issue("token", token, user, label=label)
        return token

    async def by_token(self, token: str) -> User | None:
        found = await self._holder(self.store.key("token", _digest(token)))
        return found[0] if found else None

    async def open_session(self, user: User) -> Session:
        """A session of `user` as verified: if the account changed since, it is refused."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        await self._issue("session", sid, user, csrf=csrf)
        return Session(sid, user, csrf)

    async def session(self, sid: str) -> Session | None:
        found = await self._holder(self.store.key("session", _digest(sid)))
        return Session(sid, found[0], found[1].get("csrf", "")) if found else None

    async def close_session(self, sid: str) -> None:
        digest = _digest(sid)
        key = self.store.key("session", digest)
        name = await self.redis.hget(key, "user")
        await self.redis.delete(key)
        if name:
            await self.redis.srem(self.store.key("issued", _text(name)), f"session:{digest}")

    # --- login throttling ----------------------------------------------------------------

    async def login_refusal(self, name: str, address: str, policy: LoginPolicy) -> Refusal | None:
        """Why a login of `name` from `address` must not be tried now, if it must not (see
        LoginPolicy); None: go ahead."""
        now = self._now().timestamp()
        pair, by_address = self._throttle_keys(name, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(pair, ["failures", "last"])
            pipe.zremrangebyscore(by_address, "-inf", now - policy.window)
            pipe.zcount(by_address, now - policy.window, "+inf")
            pipe.zrange(by_address, 0, 0, withscores=True)
            (failures_raw, last_raw), _, from_address, oldest = await pipe.execute()
        if from_address >= policy.address_attempts and oldest:
            until = float(oldest[0][1]) + policy.window
            if until > now:
                return Refusal("address", int(from_address), self._at(until))
        failures, last = int(failures_raw or 0), float(last_raw or 0)
        wait = policy.delay(failures)
        if failures and now < last + wait:
            return Refusal("pair", failures, self._at(last + wait))
        return None

    async def login_failed(self, name: str, address: str, policy: LoginPolicy) -> None:
        now = self._now().timestamp()
        pair, by_address = self._throttle_keys(name, address)
        failures_raw, last_raw = await self.redis.hmget(pair, ["failures", "last"])
        failures, last = int(failures_raw or 0), float(last_raw or 0)
        if now - last > policy.delay(failures) + policy.window:
            failures = 0  # forgotten
        keep = int(policy.window + policy.delay_max) + 1  # real seconds: only to free memory
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(pair, mapping={"failures": failures + 1, "last": repr(now)})
            pipe.expire(pair, keep)
            pipe.zadd(by_address, {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.expire(by_address, keep)
            await pipe.execute()

    async def login_succeeded(self, name: str, address: str) -> None:
        await self.redis.delete(self._throttle_keys(name, address)[0])

    def _throttle_keys(self, name: str, address: str) -> tuple[str, str]:
        """The (name, address) pair's key and the address's (hashed: both are typed or sent by
        the client, and neither belongs in a key name as given)."""
        pair = hashlib.sha256(f"{name}\0{address}".encode()).hexdigest()[:32]
        by_address = hashlib.sha256(address.encode()).hexdigest()[:32]
        return self.store.key("login", "pair", pair), self.store.key("login", "addr", by_address)

    def _at(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, UTC)
