"""Accounts: sign-up, log-in with rate limits, session cookies and bearer API tokens.

Passwords are hashed with argon2id (argon2-cffi). Session and API tokens are random 256-bit
strings; only their sha256 is stored, so a database leak does not leak live credentials.
Failed log-ins are rows in the database, so the limits hold across processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..storage.db import as_utc, transaction
from ..storage.models import ApiToken, LoginFailure, User
from .errors import InvalidCredentials, InvalidInput, NotFound, RateLimited, UsernameTaken

__all__ = ["Accounts", "LoginLimits", "TokenKind", "could_be_username", "normalise_username"]

TokenKind = Literal["session", "api"]
_USERNAME = re.compile(r"[a-z0-9_]{3,30}")
_MIN_PASSWORD, _MAX_PASSWORD = 8, 1024


def could_be_username(name: str) -> bool:
    """Whether ``name`` (already lowercase) has a username's shape: anything else is nobody,
    without asking the database (PostgreSQL refuses some text, e.g. NUL characters)."""
    return _USERNAME.fullmatch(name) is not None


def normalise_username(username: str) -> str:
    """Lowercase and check: 3–30 of ``[a-z0-9_]`` (unique without regard to case)."""
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InvalidInput(
            f"username: expected 3-30 characters of a-z, 0-9 and _, found {username[:40]!r}",
            code="invalid_username",
        )
    return name


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_user: int = 5
    per_client: int = 20
    window: timedelta = timedelta(minutes=5)


class Accounts:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        limits: LoginLimits = LoginLimits(),
        session_ttl: timedelta = timedelta(days=14),
        hasher: PasswordHasher | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._limits = limits
        self._session_ttl = session_ttl
        self._hasher = hasher or PasswordHasher()
        self._now = now
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    def signup(self, username: str, password: str) -> User:
        name = normalise_username(username)
        if not _MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
            raise InvalidInput(
                f"password: expected {_MIN_PASSWORD} to {_MAX_PASSWORD} characters, "
                f"found {len(password)}",
                code="invalid_password",
            )
        user = User(
            username=name, password_hash=self._hasher.hash(password), created_at=self._now()
        )
        try:
            with transaction(self._factory) as s:
                s.add(user)
        except IntegrityError:
            raise UsernameTaken(f"username {name!r} is already taken") from None
        return user

    def login(self, username: str, password: str, *, client: str) -> tuple[User, str]:
        """Check the password (rate-limited per username and client) and open a session."""
        # a name no user can have still counts as a failure (stored without NUL: PostgreSQL
        # refuses it in text)
        name = username.strip().lower()[:64].replace("\x00", "\ufffd")
        client = client[:64].replace("\x00", "\ufffd")
        self._check_rate(name, client)
        with self._factory() as s:
            user = s.scalar(select(User).where(User.username == name))
        if user is None or not self._verify(user.password_hash, password):
            with transaction(self._factory) as s:
                s.add(LoginFailure(username=name, client=client, at=self._now()))
            raise InvalidCredentials("wrong username or password")
        with transaction(self._factory) as s:
            s.execute(delete(LoginFailure).where(LoginFailure.username == name))
        return user, self.issue_token(user.id, kind="session")

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def _check_rate(self, name: str, client: str) -> None:
        since = self._now() - self._limits.window
        with self._factory() as s:
            by_user = s.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.username == name, LoginFailure.at > since)
            )
            by_client = s.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.client == client, LoginFailure.at > since)
            )
        if (by_user or 0) >= self._limits.per_user or (by_client or 0) >= self._limits.per_client:
            retry = int(self._limits.window.total_seconds())
            raise RateLimited(f"too many failed log-ins; try again in {retry} s", retry_after=retry)

    def issue_token(
        self, user_id: int, *, kind: TokenKind, name: str = "", ttl: timedelta | None = None
    ) -> str:
        token = secrets.token_urlsafe(32)
        ttl = self._session_ttl if kind == "session" and ttl is None else ttl
        now = self._now()
        with transaction(self._factory) as s:
            s.add(
                ApiToken(
                    user_id=user_id,
                    kind=kind,
                    token_sha256=_sha256(token),
                    name=name[:100],
                    created_at=now,
                    expires_at=now + ttl if ttl else None,
                )
            )
        return token

    def authenticate(self, token: str, *, kind: TokenKind) -> User | None:
        """The user a live token of ``kind`` belongs to, else None."""
        if not token or len(token) > 200:
            return None
        with self._factory() as s:
            row = s.scalar(
                select(ApiToken).where(
                    ApiToken.token_sha256 == _sha256(token), ApiToken.kind == kind
                )
            )
            if row is None:
                return None
            if row.expires_at is not None and as_utc(row.expires_at) <= self._now():
                return None
            return s.get(User, row.user_id)

    def revoke(self, token: str) -> None:
        with transaction(self._factory) as s:
            s.execute(delete(ApiToken).where(ApiToken.token_sha256 == _sha256(token)))

    def get_user(self, username: str) -> User:
        name = username.strip().lower()
        if not could_be_username(name):
            raise NotFound(f"no user named {username[:40]!r}", code="user_not_found")
        with self._factory() as s:
            user = s.scalar(select(User).where(User.username == name))
        if user is None:
            raise NotFound(f"no user named {username[:40]!r}", code="user_not_found")
        return user
