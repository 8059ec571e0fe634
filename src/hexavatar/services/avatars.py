"""Avatars: set, remove and read a user's regular profile picture; collect orphaned objects.

Write order keeps the invariant "no row points at a missing object": renditions are written to
the object store first (content-hash keys, so a retry rewrites the same keys), then one database
transaction records the avatar. If that transaction fails, the objects are orphans that
:meth:`Avatars.gc` removes once they are older than the grace period.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..media import RENDITION_SIZES, ImageLimits, hexagon_mask, identicon, process_image
from ..storage.db import as_utc, transaction
from ..storage.models import Avatar, AvatarChange, NftAvatar, Rendition, User
from ..storage.objects import ObjectStore, content_key
from .accounts import could_be_username
from .avatar_cache import Refresher, TtlCache
from .avatar_changes import prune_changes
from .errors import InvalidInput, NotFound

__all__ = [
    "AnswerKey",
    "AvatarView",
    "Avatars",
    "GcReport",
    "ImageFormat",
    "Picked",
    "pick_size",
    "record_change",
]

ImageFormat = Literal["webp", "png"]
CONTENT_TYPES: dict[str, str] = {"webp": "image/webp", "png": "image/png"}


def record_change(session: Session, user_ids: Collection[int], *, at: datetime) -> None:
    """Note in ``session`` (the change's own transaction) that the avatar shown for
    ``user_ids`` changed: the other processes drop their cached answers (avatar_changes.py)."""
    session.add_all(AvatarChange(user_id=uid, changed_at=at) for uid in user_ids)


def pick_size(requested: int) -> int:
    """The smallest rendition at least ``requested`` pixels wide (16 ≤ requested ≤ 512)."""
    if not 16 <= requested <= max(RENDITION_SIZES):
        raise InvalidInput(
            f"size: expected 16 to {max(RENDITION_SIZES)}, found {requested}", code="invalid_size"
        )
    return _RENDITION_FOR[requested]  # a table: this runs for every avatar request


_RENDITION_FOR = [
    next((s for s in RENDITION_SIZES if s >= n), 0) for n in range(max(RENDITION_SIZES) + 1)
]


@dataclass(frozen=True, slots=True)
class AvatarView:
    id: str
    kind: str
    sha256: str
    source_format: str
    width: int
    height: int
    created_at: datetime
    renditions: dict[int, str]  # size → WebP URL
    renditions_png: dict[int, str]  # size → PNG URL


@dataclass(frozen=True, slots=True)
class Picked:
    """What ``/u/{username}/avatar`` serves: a stored rendition or a generated identicon."""

    content_type: str
    etag: str
    last_modified: datetime
    key: str | None = None  # object-store key of a stored rendition
    data: bytes | None = None  # bytes of a generated default


@dataclass(frozen=True, slots=True)
class Served:
    """A cached answer of the avatar read path: the bytes, or where the immutable copy is."""

    content_type: str
    etag: str
    last_modified: datetime
    data: bytes
    url: str | None  # the immutable, content-addressed URL of a stored rendition
    source: str = ""  # which picture it shows ("r:<sha256>" or "identicon"): refresh compares it


AnswerKey = tuple[str, int, ImageFormat, str]  # (username, size, format, shape): one answer


@dataclass(slots=True)
class _Shown:
    """A user and the avatar their profile shows, as one read of the database found them."""

    user_id: int
    username: str
    user_created: datetime
    avatar_id: str | None
    avatar_created: datetime | None
    renditions: dict[tuple[int, str], tuple[str, str]]  # (size, format) → (key, sha256)


@dataclass(frozen=True, slots=True)
class GcReport:
    avatars_removed: int
    objects_removed: list[str]


class Avatars:
    def __init__(
        self,
        factory: sessionmaker[Session],
        store: ObjectStore,
        *,
        public_url: str,
        limits: ImageLimits = ImageLimits(),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        cache_ttl: float = 0.0,
    ) -> None:
        self._factory = factory
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._limits = limits
        self._now = now
        self._cache: TtlCache[Served] = TtlCache(ttl=cache_ttl)
        self._refresher: Refresher[AnswerKey] = Refresher(
            self.load_many, name="avatar-cache-refresh"
        )

    def invalidate(self, user_id: int) -> None:
        """Forget cached answers for ``user_id`` (its avatar changed in this process)."""
        self._cache.invalidate(user_id)

    def close(self) -> None:
        """Stop the cache's background refresher."""
        self._refresher.close()

    @staticmethod
    def key(username: str, *, size: int, fmt: ImageFormat, shape: str = "square") -> AnswerKey:
        """The cache key of one answer of ``/u/{username}/avatar`` (raises on a bad size)."""
        return (username.strip().lower(), pick_size(size), fmt, shape)

    def cached(
        self, username: str, *, size: int, fmt: ImageFormat, shape: str = "square"
    ) -> Served | None:
        """The cached answer for ``/u/{username}/avatar``, if fresh: no I/O, so the web layer
        may call it on the event loop and skip a thread hop on a hit. A hit past the entry's
        refresh mark also queues it for the background refresh (``services/avatar_cache.py``)."""
        key = self.key(username, size=size, fmt=fmt, shape=shape)
        hit, due = self._cache.lookup(key)
        if due:
            self._refresher.request(key)
        return hit

    def load_many(self, keys: Sequence[AnswerKey]) -> dict[AnswerKey, Served | None]:
        """Read the answers for ``keys`` in one query and cache them (None: no such user).

        Cache misses (batched by ``web/avatar_loader.py``) and the background refresh both come
        here: an answer showing the same picture as the cached one keeps its bytes; a changed
        one is read from the store; a vanished user's entry is dropped."""
        loaded_at = self._cache.clock()
        found = self._shown(keys)
        out: dict[AnswerKey, Served | None] = {}
        for key in keys:
            shown = found.get(key[0])
            if shown is None:
                self._cache.discard(key)
                out[key] = None
                continue
            served = self._served(shown, key, previous=self._cache.lookup(key)[0])
            self._cache.put(key, served, owner=shown.user_id, loaded_at=loaded_at)
            out[key] = served
        return out

    def _shown(self, keys: Collection[AnswerKey]) -> dict[str, _Shown]:
        """For each existing user named in ``keys``: the renditions of the avatar shown (an
        active NFT avatar first, then the upload) that ``keys`` ask for, in one query whatever
        their number (a row or two a user: the refresh reads thousands at a time)."""
        usernames = sorted({k[0] for k in keys if could_be_username(k[0])})
        if not usernames:
            return {}
        sizes = sorted({k[1] for k in keys})
        formats = sorted({"png" if k[3] == "hexagon" else k[2] for k in keys})
        shown = func.coalesce(NftAvatar.avatar_id, User.avatar_id)
        active = (NftAvatar.user_id == User.id) & (NftAvatar.status == "active")
        wanted = (
            (Rendition.avatar_id == Avatar.id)
            & Rendition.size.in_(sizes)
            & Rendition.format.in_(formats)
        )
        stmt = (
            select(User.id, User.username, User.created_at, Avatar.id, Avatar.created_at,
                   Rendition.size, Rendition.format, Rendition.key, Rendition.sha256)
            .outerjoin(NftAvatar, active).outerjoin(Avatar, Avatar.id == shown)
            .outerjoin(Rendition, wanted)
            .where(User.username.in_(usernames))
            .order_by(User.id, NftAvatar.created_at.desc())
        )  # fmt: skip
        out: dict[str, _Shown] = {}
        with self._factory() as s:
            for (
                uid,
                name,
                user_created,
                avatar_id,
                avatar_created,
                size,
                fmt,
                key,
                sha,
            ) in s.execute(stmt):
                row = out.get(name)
                if row is None:
                    made = as_utc(avatar_created) if avatar_created else None
                    row = _Shown(uid, name, as_utc(user_created), avatar_id, made, {})
                    out[name] = row
                if key is not None and avatar_id == row.avatar_id:
                    row.renditions[(size, fmt)] = (key, sha)
        return out

    def _served(self, shown: _Shown, key: AnswerKey, *, previous: Served | None) -> Served:
        """The answer for ``key`` from what :meth:`_shown` read; ``previous`` is reused when
        it is the same picture (no store read, no re-rendering)."""
        _, want, fmt, shape = key
        fmt = "png" if shape == "hexagon" else fmt
        stored = shown.renditions.get((want, fmt)) if shown.avatar_created else None
        source = f"r:{stored[1]}" if stored else "identicon"
        if previous is not None and previous.source == source:
            return previous
        if stored is not None and shown.avatar_created is not None:
            picked = Picked(CONTENT_TYPES[fmt], f'"{stored[1]}"', shown.avatar_created,
                            key=stored[0])  # fmt: skip
        else:
            data = identicon(shown.username, size=want, fmt=fmt)
            etag = f'"{hashlib.sha256(data).hexdigest()}"'
            picked = Picked(CONTENT_TYPES[fmt], etag, shown.user_created, data=data)
        if shape == "hexagon":
            picked = self._hexagon(picked, want)
        data = picked.data if picked.data is not None else self.read_object(picked.key or "")
        return Served(
            content_type=picked.content_type,
            etag=picked.etag,
            last_modified=picked.last_modified,
            data=data,
            url=self.object_url(picked.key) if picked.key and picked.data is None else None,
            source=source,
        )

    def _render(self, user_id: int, data: bytes, *, kind: str) -> Avatar:
        """Validate and render ``data`` and write its renditions; an unsaved Avatar row."""
        image = process_image(data, limits=self._limits)
        rows = []
        for r in image.renditions:
            key = content_key(r.data, ext=r.format)
            if not self._store.exists(key):
                self._store.put(key, r.data, content_type=CONTENT_TYPES[r.format])
            rows.append(
                Rendition(
                    size=r.size,
                    format=r.format,
                    key=key,
                    sha256=hashlib.sha256(r.data).hexdigest(),
                    byte_size=len(r.data),
                )
            )
        return Avatar(
            id=str(uuid.uuid4()),
            user_id=user_id,
            kind=kind,
            sha256=image.sha256,
            source_format=image.source_format,
            width=image.width,
            height=image.height,
            created_at=self._now(),
            renditions=rows,
        )

    def check_image(self, data: bytes) -> None:
        """Raise the pipeline's error if ``data`` would be refused as a picture."""
        process_image(data, limits=self._limits, sizes=(64,))

    def store_renditions(self, user_id: int, data: bytes, *, kind: str) -> AvatarView:
        """Render ``data`` and record it as an avatar of ``kind`` (e.g. an NFT's picture)
        without making it the user's uploaded picture."""
        avatar = self._render(user_id, data, kind=kind)
        with transaction(self._factory) as s:
            s.add(avatar)
        return self.view(avatar)

    def set_upload(self, user_id: int, data: bytes) -> AvatarView:
        """Validate and render ``data``, store the renditions, then record the avatar."""
        avatar = self._render(user_id, data, kind="upload")
        with transaction(self._factory) as s:
            s.execute(
                update(Avatar)
                .where(Avatar.user_id == user_id, Avatar.kind == "upload")
                .where(Avatar.deleted_at.is_(None))
                .values(deleted_at=avatar.created_at)
            )
            s.add(avatar)
            s.flush()
            s.execute(
                update(User)
                .where(User.id == user_id)
                .values(avatar_id=avatar.id, avatar_version=User.avatar_version + 1)
            )
            record_change(s, [user_id], at=avatar.created_at)
        self.invalidate(user_id)
        return self.view(avatar)

    def delete(self, user_id: int) -> None:
        with transaction(self._factory) as s:
            user = s.get(User, user_id)
            if user is None or user.avatar_id is None:
                raise NotFound("this user has no avatar", code="no_avatar")
            s.execute(
                update(Avatar).where(Avatar.id == user.avatar_id).values(deleted_at=self._now())
            )
            user.avatar_id = None
            user.avatar_version += 1
            record_change(s, [user_id], at=self._now())
        self.invalidate(user_id)

    def view(self, avatar: Avatar) -> AvatarView:
        urls: dict[str, dict[int, str]] = {"webp": {}, "png": {}}
        for r in avatar.renditions:
            urls[r.format][r.size] = self.object_url(r.key)
        return AvatarView(
            id=avatar.id,
            kind=avatar.kind,
            sha256=avatar.sha256,
            source_format=avatar.source_format,
            width=avatar.width,
            height=avatar.height,
            created_at=as_utc(avatar.created_at),
            renditions=urls["webp"],
            renditions_png=urls["png"],
        )

    def object_url(self, key: str) -> str:
        """A URL for a stored object: the store's public URL, else our own ``/a/`` route."""
        return self._store.public_url(key) or f"{self._public_url}/a/{key.rsplit('/', 1)[-1]}"

    def current(self, username: str) -> tuple[User, AvatarView | None]:
        with self._factory() as s:
            name = username.strip().lower()
            user = (
                s.scalar(select(User).where(User.username == name))
                if could_be_username(name)
                else None
            )
            if user is None:
                raise NotFound(f"no user named {username[:40]!r}", code="user_not_found")
            return user, (self.view(user.avatar) if user.avatar else None)

    def shown(self, username: str) -> tuple[User, AvatarView | None]:
        """The user and the avatar their profile shows (an active NFT avatar first)."""
        user, _ = self.current(username)
        avatar_id, _kind = self.shown_avatar_id(user)
        if avatar_id is None:
            return user, None
        with self._factory() as s:
            avatar = s.get(Avatar, avatar_id)
            return user, self.view(avatar) if avatar else None

    def shown_avatar_id(self, user: User) -> tuple[str | None, str]:
        """The avatar shown for ``user`` and its kind: an active NFT avatar wins over the
        uploaded picture; None means the generated default."""
        with self._factory() as s:
            nft = s.scalar(
                select(NftAvatar.avatar_id).where(
                    NftAvatar.user_id == user.id, NftAvatar.status == "active"
                )
            )
        if nft is not None:
            return nft, "nft"
        return user.avatar_id, "upload"

    def _hexagon(self, picked: Picked, size: int) -> Picked:
        source = picked.data if picked.data is not None else self.read_object(picked.key or "")
        data = hexagon_mask(source, size=size)
        return Picked(
            content_type="image/png",
            etag=f'"hex-{picked.etag.strip(chr(34))}"',
            last_modified=picked.last_modified,
            data=data,
        )

    def read_object(self, key: str) -> bytes:
        return self._store.get(key)

    def gc(self, *, grace: timedelta) -> GcReport:
        """Remove deleted avatars' rows and objects no row references, older than ``grace``."""
        cutoff = self._now() - grace
        with transaction(self._factory) as s:
            old = s.scalars(
                select(Avatar).where(Avatar.deleted_at.is_not(None), Avatar.deleted_at < cutoff)
            ).all()
            for avatar in old:
                s.delete(avatar)
        with self._factory() as s:
            live = set(s.scalars(select(Rendition.key)).all())
        prune_changes(self._factory, before=cutoff)
        removed = []
        for info in self._store.list("a/"):
            if info.key not in live and info.modified < cutoff:
                self._store.delete(info.key)
                removed.append(info.key)
        return GcReport(avatars_removed=len(old), objects_removed=removed)
