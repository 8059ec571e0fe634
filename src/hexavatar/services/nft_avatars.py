"""NFT avatars: set any NFT a linked wallet owns as the avatar, with its provenance, and keep
it only while ownership holds.

Setting one checks ownership at the latest block (``ownerOf`` for ERC-721, ``balanceOf`` > 0
for ERC-1155, against every linked wallet), resolves the metadata and image (IPFS bytes
verified against their CIDs), renders renditions through the media pipeline and records the
provenance. :meth:`NftAvatars.reverify` re-checks every active NFT avatar in Multicall3 batches
pinned to one block and drops those whose token left the user's wallets; the user then falls
back to the last uploaded picture, else the generated default.

A chain's node that is down, too slow or answers garbage is :class:`NodeUnavailable` (code
``chain_unavailable``), naming the chain ID and never the RPC URL. It is never taken for an
answer: nothing is set, dropped or replaced on it, so the avatar in place stays.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from ..chain.errors import ChainError, ChainUnavailable
from ..chain.rpc import block_number, get_logs
from ..chain.tokens import balance_of, batch_owner_of, owner_of
from ..media import ImageLimits, sniff_format
from ..resolve.http import AddressPolicy, SafeHttpClient
from ..resolve.refs import NftRef, parse_nft_ref
from ..resolve.resolver import IpfsReader, Resolution, ResolveLimits, Step, resolve_nft
from ..storage.db import as_utc, transaction
from ..storage.models import NftAvatar, User
from .avatars import Avatars, record_change
from .errors import InvalidInput, NotFound, ServiceError
from .wallets import Wallets

__all__ = ["NftAvatarView", "NftAvatars", "NodeUnavailable", "OwnedToken", "ReverifyReport"]

log = logging.getLogger(__name__)

_TRANSFER = keccak(text="Transfer(address,address,uint256)")


class NotOwner(ServiceError):
    code = "not_owner"


class UnknownChain(ServiceError):
    code = "unknown_chain"


class NodeUnavailable(ServiceError, ConnectionError):
    """A configured chain's JSON-RPC node is down, too slow or answers garbage: try later."""

    code = "chain_unavailable"


@contextmanager
def _node(chain_id: int) -> Iterator[None]:
    """Talk to ``chain_id``'s node: :class:`ChainUnavailable` from the chain package (whose
    messages never quote an RPC URL) becomes :class:`NodeUnavailable` naming the chain."""
    try:
        yield
    except ChainUnavailable as e:
        log.warning("chain %d is unavailable: %s", chain_id, e)
        raise NodeUnavailable(f"chain {chain_id} is unavailable: {e}; try again later") from e


@dataclass(frozen=True, slots=True)
class NftAvatarView:
    id: str
    status: str
    chain_id: int
    contract: str
    token_id: str
    standard: str
    owner: str
    block_number: int
    token_uri: str
    metadata_uri: str
    metadata_cid: str | None
    metadata_verified: bool
    image_uri: str
    image_cid: str | None
    image_verified: bool
    name: str | None
    steps: list[dict[str, object]]
    avatar_id: str
    checked_at: datetime
    checked_block: int
    dropped_at: datetime | None
    dropped_reason: str | None

    @property
    def caip(self) -> str:
        return f"eip155:{self.chain_id}/{self.standard}:{self.contract}/{self.token_id}"

    @classmethod
    def of(cls, r: NftAvatar) -> NftAvatarView:
        return cls(
            r.id, r.status, r.chain_id, r.contract, r.token_id, r.standard, r.owner,
            r.block_number, r.token_uri, r.metadata_uri, r.metadata_cid, r.metadata_verified,
            r.image_uri, r.image_cid, r.image_verified, r.name, list(r.steps), r.avatar_id,
            as_utc(r.checked_at), r.checked_block,
            as_utc(r.dropped_at) if r.dropped_at else None, r.dropped_reason,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OwnedToken:
    chain_id: int
    contract: str
    token_id: int
    owner: str

    @property
    def ref(self) -> str:
        return f"eip155:{self.chain_id}/erc721:{self.contract}/{self.token_id}"


@dataclass(frozen=True, slots=True)
class ReverifyReport:
    block: int
    checked: int
    dropped: list[str]


class NftAvatars:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        avatars: Avatars,
        wallets: Wallets,
        chains: Callable[[int], Web3 | None],
        ipfs: IpfsReader,
        http_policy: AddressPolicy | None = None,
        limits: ResolveLimits = ResolveLimits(),
        image_limits: ImageLimits = ImageLimits(),
        own_contract: tuple[int, str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._own = own_contract
        self._factory = factory
        self._avatars = avatars
        self._wallets = wallets
        self._chains = chains
        self._ipfs = ipfs
        self._policy = http_policy
        self._limits = limits
        self._image_limits = image_limits
        self._now = now

    def _w3(self, chain_id: int) -> Web3:
        w3 = self._chains(chain_id)
        if w3 is None:
            raise UnknownChain(f"chain {chain_id} is not configured on this service")
        return w3

    # -- setting ------------------------------------------------------------------------------

    def set_avatar(self, user_id: int, ref_text: str) -> NftAvatarView:
        """Check ownership, resolve, render and record; the NFT becomes the avatar. Every chain
        read comes before anything is stored, so a failing node leaves the avatar in place."""
        ref = parse_nft_ref(ref_text.strip())
        steps: list[Step] = []
        with _node(ref.chain_id):
            w3 = self._w3(ref.chain_id)
            block = block_number(w3)
            owner = self._owner_among(w3, ref, self._wallets.addresses(user_id), block=block)
            steps.append(Step("ownership", True, f"{owner} owns it at block {block}"))
            res = anyio.run(self._resolve, ref, w3, block, steps)
        assert res.image is not None and res.metadata_source is not None
        view = self._avatars.store_renditions(user_id, self._raster(res.image.data), kind="nft")
        steps.append(Step("renditions", True, f"{len(view.renditions)} sizes rendered"))
        return self._record(user_id, res, owner=owner, avatar_id=view.id, steps=steps)

    def inspect(self, ref_text: str) -> tuple[Resolution | None, list[Step], str | None]:
        """Resolve ``ref_text`` without setting anything: the steps taken, what was verified,
        and the error that stopped it (if one did). For ``hexavatar nft show``."""
        steps: list[Step] = []
        try:
            ref = parse_nft_ref(ref_text.strip())
            with _node(ref.chain_id):
                w3 = self._w3(ref.chain_id)
                block = block_number(w3)
                try:
                    holder = owner_of(w3, ref.contract, ref.token_id, block=block)
                    steps.append(Step("owner", True, f"ownerOf = {holder} at block {block}"))
                except ChainUnavailable:
                    raise
                except ChainError as e:
                    steps.append(Step("owner", False, f"ownerOf failed: {e}"))
                res = anyio.run(self._resolve, ref, w3, block, steps)
            assert res.image is not None
            self._avatars.check_image(self._raster(res.image.data))
            steps.append(Step("image_check", True, "the image passes the upload pipeline"))
            return res, steps, None
        except (ServiceError, ChainError, ValueError, OSError) as e:
            steps.append(Step(getattr(e, "code", "error"), False, str(e)))
            return None, steps, str(e)

    async def _resolve(self, ref: NftRef, w3: Web3, block: int, steps: list[Step]) -> Resolution:
        async with SafeHttpClient(policy=self._policy) as http:
            return await resolve_nft(
                ref, w3=w3, http=http, ipfs=self._ipfs, block=block, limits=self._limits,
                steps=steps,
            )  # fmt: skip

    def _raster(self, data: bytes) -> bytes:
        """Raster bytes for the media pipeline; an SVG is rasterised safely first."""
        if sniff_format(data[:64]) is None and _looks_like_svg(data):
            from ..media import rasterise_svg

            return bytes(rasterise_svg(data, size=512))
        return data

    def _owner_among(self, w3: Web3, ref: NftRef, wallets: Sequence[str], *, block: int) -> str:
        if not wallets:
            raise NotOwner("link a wallet first: no wallet is linked to this account")
        standard = ref.standard
        try:
            if standard != "erc1155":
                owner = owner_of(w3, ref.contract, ref.token_id, block=block)
                if owner in wallets:
                    return owner
                raise NotOwner(f"token {ref.token_id} is owned by {owner}, not a linked wallet")
            for wallet in wallets:
                if balance_of(w3, ref.contract, wallet, ref.token_id, block=block) > 0:
                    return wallet
        except ChainUnavailable:
            raise  # the node failed: that says nothing about who owns the token
        except ChainError as e:
            raise NotOwner(f"ownership could not be read from the contract: {e}") from e
        raise NotOwner(f"no linked wallet holds token {ref.token_id} of {ref.contract}")

    def _record(
        self, user_id: int, res: Resolution, *, owner: str, avatar_id: str, steps: list[Step]
    ) -> NftAvatarView:
        meta, image = res.metadata_source, res.image
        assert meta is not None and image is not None
        now = self._now()
        row = NftAvatar(
            id=str(uuid.uuid4()), user_id=user_id, status="active", chain_id=res.ref.chain_id,
            contract=res.ref.contract, token_id=str(res.ref.token_id), standard=res.standard,
            owner=owner, block_number=res.block, token_uri=res.token_uri[:100_000],
            metadata_uri=meta.uri[:100_000], metadata_cid=meta.cid,
            metadata_verified=meta.verified, image_uri=image.uri[:100_000],
            image_cid=image.cid, image_verified=image.verified,
            name=str(res.metadata.get("name", ""))[:500] or None,
            steps=[s.as_dict() for s in steps], avatar_id=avatar_id, created_at=now,
            checked_at=now, checked_block=res.block,
        )  # fmt: skip
        with transaction(self._factory) as s:
            s.execute(
                update(NftAvatar)
                .where(NftAvatar.user_id == user_id, NftAvatar.status == "active")
                .values(status="replaced")
            )
            s.add(row)
            s.execute(
                update(User)
                .where(User.id == user_id)
                .values(avatar_version=User.avatar_version + 1)
            )
            record_change(s, [user_id], at=now)
        self._avatars.invalidate(user_id)
        return NftAvatarView.of(row)

    # -- reading ------------------------------------------------------------------------------

    def active(self, user_id: int) -> NftAvatarView | None:
        with self._factory() as s:
            row = s.scalar(
                select(NftAvatar).where(NftAvatar.user_id == user_id, NftAvatar.status == "active")
            )
        return NftAvatarView.of(row) if row else None

    def latest(self, user_id: int) -> NftAvatarView | None:
        with self._factory() as s:
            row = s.scalar(
                select(NftAvatar)
                .where(NftAvatar.user_id == user_id)
                .order_by(NftAvatar.created_at.desc())
                .limit(1)
            )
        return NftAvatarView.of(row) if row else None

    def remove(self, user_id: int) -> None:
        if not self._drop_where(user_id=user_id, reason="removed by the user", block=None):
            raise NotFound("no NFT avatar is set", code="no_nft_avatar")

    def owned_tokens(self, user_id: int) -> list[OwnedToken]:
        """Tokens of this service's contract that the user's linked wallets own now: every
        token ever transferred to one of them (Transfer logs), re-checked with Multicall3."""
        wallets = self._wallets.addresses(user_id)
        if self._own is None or not wallets:
            return []
        chain_id, contract = self._own
        topics = [
            "0x" + _TRANSFER.hex(),
            None,
            ["0x" + bytes(12).hex() + w[2:].lower() for w in wallets],
        ]
        with _node(chain_id):
            w3 = self._w3(chain_id)
            block = block_number(w3)
            logs = get_logs(
                w3,
                {"fromBlock": 0, "toBlock": block, "address": contract, "topics": topics},  # type: ignore[typeddict-item]
            )
            ids = sorted({int.from_bytes(bytes(e["topics"][3]), "big") for e in logs})
            owners = batch_owner_of(w3, [(contract, i) for i in ids], block=block)
        return [
            OwnedToken(chain_id, contract, i, o)
            for i, o in zip(ids, owners, strict=True)
            if o is not None and o in wallets
        ]

    # -- keeping ------------------------------------------------------------------------------

    def reverify(
        self, *, chain_id: int | None = None, batch_size: int = 2000, depth: int = 1
    ) -> ReverifyReport:
        """Re-check every active NFT avatar (Multicall3 batches pinned to one block per chain,
        ``depth`` confirmations below the head); drop those whose token left the user's
        linked wallets."""
        with self._factory() as s:
            rows = s.execute(
                select(
                    NftAvatar.id, NftAvatar.user_id, NftAvatar.chain_id, NftAvatar.contract,
                    NftAvatar.token_id, NftAvatar.standard,
                ).where(NftAvatar.status == "active")
            ).all()  # fmt: skip
        by_chain: dict[int, list[Any]] = {}
        for r in rows:
            if chain_id is None or r.chain_id == chain_id:
                by_chain.setdefault(r.chain_id, []).append(r)
        dropped: list[str] = []
        block = 0
        for cid, group in by_chain.items():
            with _node(cid):
                w3 = self._w3(cid)
                block = max(0, block_number(w3) - depth + 1)
                dropped += self._reverify_group(w3, group, block=block, batch_size=batch_size)
        return ReverifyReport(block=block, checked=len(rows), dropped=dropped)

    def tokens_in_use(self) -> dict[int, set[tuple[str, int]]]:
        """chain ID → {(contract, token ID)} of every active NFT avatar."""
        with self._factory() as s:
            rows = s.execute(
                select(NftAvatar.chain_id, NftAvatar.contract, NftAvatar.token_id).where(
                    NftAvatar.status == "active"
                )
            ).all()
        found: dict[int, set[tuple[str, int]]] = {}
        for chain_id, contract, token_id in rows:
            found.setdefault(chain_id, set()).add((contract, int(token_id)))
        return found

    def _reverify_group(
        self, w3: Web3, group: list[Any], *, block: int, batch_size: int
    ) -> list[str]:
        erc721 = [r for r in group if r.standard == "erc721"]
        owners = batch_owner_of(
            w3, [(r.contract, int(r.token_id)) for r in erc721], block=block,
            batch_size=batch_size, checksum=False,
        )  # fmt: skip
        found = {r.id: (o.lower() if o else None) for r, o in zip(erc721, owners, strict=True)}
        wallets = self._wallets.addresses_of({r.user_id for r in group})
        kept, dropped = [], []
        for r in group:
            mine = wallets.get(r.user_id, set())
            if r.standard == "erc721":
                holder = found[r.id]
                ok = holder is not None and holder in {w.lower() for w in mine}
            else:
                ok = any(_safe_balance(w3, r, w, block) > 0 for w in mine)
            if ok:
                kept.append(r.id)
                continue
            if r.standard != "erc721":
                why = "no linked wallet holds it any more"
            else:
                holder = found[r.id]
                why = (
                    f"token now owned by {to_checksum_address(holder)}"
                    if holder
                    else "ownerOf failed"
                )
            if self._drop_where(avatar_id=r.id, reason=f"{why} at block {block}", block=block):
                dropped.append(r.id)
        self._touch(kept, block)
        return dropped

    def _touch(self, avatar_ids: list[str], block: int) -> None:
        """Record that these avatars' ownership held at ``block`` (in chunks of 500)."""
        now = self._now()
        with transaction(self._factory) as s:
            for i in range(0, len(avatar_ids), 500):
                s.execute(
                    update(NftAvatar)
                    .where(NftAvatar.id.in_(avatar_ids[i : i + 500]))
                    .where(NftAvatar.status == "active")
                    .values(checked_at=now, checked_block=block)
                )

    def _drop_where(
        self,
        *,
        reason: str,
        block: int | None,
        user_id: int | None = None,
        avatar_id: str | None = None,
    ) -> bool:
        stmt = update(NftAvatar).where(NftAvatar.status == "active")
        if user_id is not None:
            stmt = stmt.where(NftAvatar.user_id == user_id)
        if avatar_id is not None:
            stmt = stmt.where(NftAvatar.id == avatar_id)
        values: dict[str, Any] = {"status": "dropped", "dropped_at": self._now()}
        values["dropped_reason"] = reason[:1000]
        if block is not None:
            values["checked_block"] = block
        with transaction(self._factory) as s:
            rows = s.execute(stmt.values(**values).returning(NftAvatar.user_id)).scalars().all()
            if rows:
                s.execute(
                    update(User)
                    .where(User.id.in_(rows))
                    .values(avatar_version=User.avatar_version + 1)
                )
                record_change(s, set(rows), at=values["dropped_at"])
        for uid in rows:
            self._avatars.invalidate(uid)
        return bool(rows)

    def recheck_user(self, user_id: int) -> bool:
        """After a wallet is unlinked: drop the NFT avatar if no linked wallet owns it now.

        False when the chain's node is unavailable: the caller's unlink stands, the avatar is
        left as it is (nothing is dropped on a guess) and the watcher's next full
        re-verification decides."""
        active = self.active(user_id)
        if active is None:
            return True
        ref = NftRef.from_parts(
            chain_id=active.chain_id, contract=active.contract, token_id=int(active.token_id),
            standard="erc1155" if active.standard == "erc1155" else "erc721",
        )  # fmt: skip
        try:
            with _node(active.chain_id):
                w3 = self._w3(active.chain_id)
                block = block_number(w3)
                self._owner_among(w3, ref, self._wallets.addresses(user_id), block=block)
        except NotOwner as e:
            self._drop_where(avatar_id=active.id, reason=f"{e} at block {block}", block=block)
        except NodeUnavailable:
            return False
        return True


def _safe_balance(w3: Web3, r: Any, wallet: str, block: int) -> int:
    try:
        return balance_of(w3, r.contract, wallet, int(r.token_id), block=block)
    except ChainUnavailable:
        raise  # never a zero balance: that would drop an avatar its owner still holds
    except ChainError:
        return 0


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip().lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096])


def parse_ref(text: str) -> NftRef:
    try:
        return parse_nft_ref(text)
    except ValueError as e:
        raise InvalidInput(str(e), code="invalid_nft_ref") from e
