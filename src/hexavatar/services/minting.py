"""Minting: image + name + description → IPFS content → an ERC-721 token, through a durable ledger.

Each request is a ``mints`` row whose status moves received → content_imported → signed → sent →
confirmed (or failed). Every step can be re-run: importing content is deterministic (same CIDs),
the move to ``signed`` is a conditional update made in the same transaction that takes the nonce
(so one mint is signed once, whoever advances it), and only the saved signed bytes are ever
re-sent. Several requests with one ``Idempotency-Key`` therefore end in one token, and
:meth:`Minting.recover` finishes what a crash left behind.

Nonces come from the ``nonce_counters`` row, incremented with one ``UPDATE … RETURNING`` that
holds the row (PostgreSQL) or the database (SQLite) write lock until the signed transaction is
stored: concurrent mints never collide and leave no gaps.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import TransactionNotFound

from ..chain.errors import (
    ChainError,
    ChainUnavailable,
    InvalidAddress,
    ReceiptTimeout,
    TransactionReverted,
)
from ..chain.minter import CODEC_DAG_PB, CODEC_RAW
from ..chain.rpc import asking_node, describe_failure, to_address
from ..ipfs import CID
from ..ipfs.blockstore import Blockstore
from ..ipfs.errors import IpfsError
from ..ipfs.importer import import_bytes
from ..ipfs.profiles import CID_VERSION_1
from ..media import ImageLimits, process_image
from ..storage.db import as_utc, transaction
from ..storage.models import Mint, NonceCounter
from .chainlink import ChainLink
from .errors import InvalidInput, NotFound, ServiceError

__all__ = ["MintRequest", "MintView", "Minting", "parse_address"]

log = logging.getLogger(__name__)

TERMINAL = frozenset({"confirmed", "failed"})
_MAX_NAME, _MAX_DESCRIPTION, _MAX_ATTRIBUTES = 200, 5000, 64


class IdempotencyConflict(ServiceError):
    code = "idempotency_key_reused"


class MintUnavailable(ServiceError):
    code = "chain_unavailable"


def parse_address(value: str, *, what: str = "to") -> str:
    """An EIP-55 address (the chain library's rule: mixed case must carry a valid checksum),
    and not the zero address."""
    try:
        address = to_address(value.strip())
    except InvalidAddress:
        raise InvalidInput(
            f"{what}: expected an address 0x + 40 hex digits (EIP-55 checksum when mixed case), "
            f"found {value[:60]!r}",
            code="invalid_address",
        ) from None
    if int(address, 16) == 0:
        raise InvalidInput(f"{what}: the zero address cannot own a token", code="invalid_address")
    return address


def _attributes(raw: str | None) -> list[dict[str, Any]] | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise InvalidInput(f"attributes: expected JSON, found {raw[:60]!r} ({e})") from None
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise InvalidInput("attributes: expected a JSON array of objects")
    if len(value) > _MAX_ATTRIBUTES:
        raise InvalidInput(f"attributes: expected at most {_MAX_ATTRIBUTES}, found {len(value)}")
    return value


@dataclass(frozen=True, slots=True)
class MintRequest:
    image: bytes
    name: str
    description: str
    attributes: list[dict[str, Any]] | None
    to: str | None
    idempotency_key: str

    @classmethod
    def parse(
        cls,
        *,
        image: bytes,
        name: str | None,
        description: str | None,
        attributes: str | None,
        to: str | None,
        idempotency_key: str | None,
    ) -> MintRequest:
        name = (name or "").strip()
        if not 1 <= len(name) <= _MAX_NAME:
            raise InvalidInput(
                f"name: expected 1 to {_MAX_NAME} characters, found {len(name)}",
                code="invalid_name",
            )
        description = (description or "").strip()
        if len(description) > _MAX_DESCRIPTION:
            raise InvalidInput(f"description: expected at most {_MAX_DESCRIPTION} characters")
        key = (idempotency_key or "").strip() or f"auto-{uuid.uuid4()}"
        if len(key) > 200:
            raise InvalidInput("Idempotency-Key: expected at most 200 characters")
        return cls(
            image=image,
            name=name,
            description=description,
            attributes=_attributes(attributes),
            to=parse_address(to) if to and to.strip() else None,
            idempotency_key=key,
        )

    def fingerprint(self) -> str:
        body = {
            "image": hashlib.sha256(self.image).hexdigest(),
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes,
            "to": self.to,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MintView:
    id: str
    status: str
    token_id: int | None
    metadata_uri: str | None
    image_uri: str | None
    tx_hash: str | None
    contract: str | None
    chain_id: int | None
    owner: str | None
    custodial: bool
    transfer_status: str | None
    transfer_tx_hash: str | None
    error: dict[str, str] | None
    created_at: datetime

    @classmethod
    def of(cls, m: Mint) -> MintView:
        owner = m.transfer_to if m.transfer_status == "confirmed" else (m.to_address or m.minter)
        return cls(
            id=m.id,
            status=m.status,
            token_id=m.token_id,
            metadata_uri=f"ipfs://{m.metadata_cid}" if m.metadata_cid else None,
            image_uri=f"ipfs://{m.image_cid}" if m.image_cid else None,
            tx_hash=m.tx_hash,
            contract=m.contract,
            chain_id=m.chain_id,
            owner=owner if m.status == "confirmed" else None,
            custodial=m.custodial,
            transfer_status=m.transfer_status,
            transfer_tx_hash=m.transfer_tx_hash,
            error={"code": m.error_code or "", "message": m.error or ""} if m.error else None,
            created_at=as_utc(m.created_at),
        )


def metadata_document(*, name: str, description: str, image_cid: str, attributes: Any) -> bytes:
    """The ERC-721 metadata JSON (name, description, image as ipfs://, attributes)."""
    doc: dict[str, Any] = {"name": name, "description": description, "image": f"ipfs://{image_cid}"}
    if attributes is not None:
        doc["attributes"] = attributes
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _mined(chain: ChainLink, tx_hash: str) -> bool:
    """Whether the node has a receipt for ``tx_hash`` (then re-sending is pointless)."""
    with asking_node(f"eth_getTransactionReceipt for {tx_hash}"):
        try:
            chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
    return True


class Minting:
    def __init__(
        self,
        factory: sessionmaker[Session],
        blockstore: Blockstore,
        chain: ChainLink | None,
        *,
        confirmations: int = 1,
        timeout: float = 60.0,
        limits: ImageLimits = ImageLimits(),
        pin: Callable[[CID], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pin = pin
        self._factory = factory
        self._blocks = blockstore
        self._chain = chain
        self._confirmations = confirmations
        self._timeout = timeout
        self._limits = limits
        self._now = now
        self._counters: set[tuple[int, str]] = set()

    @property
    def chain(self) -> ChainLink:
        if self._chain is None:
            raise MintUnavailable("NFT minting is not enabled on this service")
        return self._chain

    # -- requests -----------------------------------------------------------------------------

    def submit(self, user_id: int | None, req: MintRequest) -> MintView:
        """Record the request (or find the one with this idempotency key) and advance it."""
        chain = self.chain
        process_image(req.image, limits=self._limits, sizes=(64,))  # refuse a bad image first
        mint_id = self._record(user_id, req, chain)
        return self.advance(mint_id)

    def _record(self, user_id: int | None, req: MintRequest, chain: ChainLink) -> str:
        fingerprint = req.fingerprint()
        now = self._now()
        row = Mint(
            id=str(uuid.uuid4()),
            user_id=user_id,
            idempotency_key=req.idempotency_key,
            request_sha256=fingerprint,
            status="received",
            name=req.name,
            description=req.description,
            attributes=req.attributes,
            image_sha256=hashlib.sha256(req.image).hexdigest(),
            image_content_type="",
            to_address=req.to,
            custodial=req.to is None,
            chain_id=chain.chain_id,
            contract=chain.contract,
            minter=chain.minter.address,
            created_at=now,
            updated_at=now,
        )
        # Content first: the image blocks are in the blockstore before the row says "received".
        image = import_bytes(req.image, profile=CID_VERSION_1, blockstore=self._blocks)
        row.image_cid = str(image.cid)
        try:
            with transaction(self._factory) as s:
                s.add(row)
        except IntegrityError:
            with self._factory() as s:
                existing = s.scalar(
                    select(Mint).where(
                        Mint.user_id == user_id, Mint.idempotency_key == req.idempotency_key
                    )
                )
            if existing is None:
                raise
            if existing.request_sha256 != fingerprint:
                raise IdempotencyConflict(
                    "Idempotency-Key was already used for a different mint request"
                ) from None
            return existing.id
        return row.id

    def get(self, mint_id: str, *, user_id: int | None = None) -> MintView:
        with self._factory() as s:
            row = s.get(Mint, mint_id)
        if row is None or (user_id is not None and row.user_id != user_id):
            raise NotFound(f"no mint {mint_id[:40]!r}", code="mint_not_found")
        return MintView.of(row)

    def list_for(self, user_id: int) -> list[MintView]:
        with self._factory() as s:
            rows = s.scalars(
                select(Mint).where(Mint.user_id == user_id).order_by(Mint.created_at.desc())
            ).all()
        return [MintView.of(r) for r in rows]

    # -- the state machine ---------------------------------------------------------------------

    def refresh(self, mint_id: str) -> MintView:
        """The mint, moved on first if it was sent and its block has come since (one look at
        the node, no waiting): a mint whose wait timed out is confirmed when next read."""
        view = self.get(mint_id)
        if view.status not in ("signed", "sent") or self._chain is None:
            return view
        try:
            return self.advance(mint_id, patience=0.0)
        except MintUnavailable:
            return self.get(mint_id)

    def advance(self, mint_id: str, *, patience: float | None = None) -> MintView:
        """Run the mint forward from where the ledger says it is, as far as it can go now;
        ``patience`` caps the wait for a receipt (default: the configured timeout)."""
        wait = self._timeout if patience is None else patience
        for _ in range(6):
            with self._factory() as s:
                row = s.get(Mint, mint_id)
            assert row is not None
            if row.status in TERMINAL:
                return MintView.of(row)
            steps: dict[str, Callable[[Mint], bool]] = {
                "received": self._import_metadata,
                "content_imported": self._sign,
                "signed": self._send,
                "sent": functools.partial(self._confirm, wait=wait),
            }
            step = steps[row.status]
            try:
                if not step(row):
                    return self.get(mint_id)
            except (ChainUnavailable, OSError) as e:
                # A ChainUnavailable never quotes the node's exception. Another OSError's text
                # (requests' holds the RPC URL: API key, password) is neither stored, logged
                # nor chained: only how it failed.
                unavailable = isinstance(e, ChainUnavailable)
                message = str(e) if unavailable else f"the node {describe_failure(e)}"
                self._note_error(mint_id, "chain_unavailable", message[:500])
                log.warning("mint %s is saved and waits for the chain: %s", mint_id, message)
                raise MintUnavailable(
                    f"the chain is unavailable ({message[:300]}); mint {mint_id} is saved and "
                    "will be retried"
                ) from (e if unavailable else None)
        return self.get(mint_id)

    def _set(self, mint_id: str, *, expect: str | None = None, **values: Any) -> bool:
        stmt = update(Mint).where(Mint.id == mint_id)
        if expect is not None:
            stmt = stmt.where(Mint.status == expect)
        with transaction(self._factory) as s:
            result = s.execute(stmt.values(updated_at=self._now(), **values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _note_error(self, mint_id: str, code: str, message: str) -> None:
        self._set(mint_id, error_code=code, error=message[:2000])

    def _fail(self, mint_id: str, code: str, message: str) -> bool:
        self._set(mint_id, status="failed", error_code=code, error=message[:2000])
        return False

    def _import_metadata(self, row: Mint) -> bool:
        assert row.image_cid is not None
        doc = metadata_document(
            name=row.name,
            description=row.description,
            image_cid=row.image_cid,
            attributes=row.attributes,
        )
        meta = import_bytes(doc, profile=CID_VERSION_1, blockstore=self._blocks)
        if self._pin is not None:  # push the exact blocks to Kubo and check the pinned roots
            try:
                self._pin(CID.decode(row.image_cid))
                self._pin(meta.cid)
            except IpfsError as e:
                self._note_error(row.id, "pinning_failed", str(e))
                raise MintUnavailable(f"{e} (mint {row.id} is saved and will be retried)") from e
        self._set(row.id, expect="received", status="content_imported", metadata_cid=str(meta.cid))
        return True

    def _sign(self, row: Mint) -> bool:
        chain = self.chain
        assert row.metadata_cid is not None
        cid = CID.decode(row.metadata_cid)
        codec = CODEC_RAW if cid.codec == 0x55 else CODEC_DAG_PB
        to = row.to_address or chain.minter.address
        self._ensure_counter(chain)
        with transaction(self._factory) as s:
            claimed = s.execute(
                update(Mint)
                .where(Mint.id == row.id, Mint.status == "content_imported")
                .values(status="signed", updated_at=self._now())
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return True  # someone else signed it: reload and go on
            nonce = self._take_nonce(s, chain)
            try:
                tx = chain.minter.build_mint_tx(to=to, digest=cid.digest, codec=codec, nonce=nonce)
            except TransactionReverted as e:
                s.rollback()
                return self._fail(row.id, e.code, str(e))
            signed = chain.minter.sign(tx)
            s.execute(
                update(Mint)
                .where(Mint.id == row.id)
                .values(nonce=nonce, raw_tx=signed.raw, tx_hash=signed.hash)
            )
        return True

    def _ensure_counter(self, chain: ChainLink) -> None:
        """Create the minter's nonce counter, seeded from the node, unless it exists. Done in a
        transaction of its own, before the one that takes a nonce (SQLite has one writer)."""
        key = (chain.chain_id, chain.minter.address)
        if key in self._counters:
            return
        with self._factory() as s:
            exists = s.get(NonceCounter, key) is not None
        if not exists:
            seed = chain.minter.next_nonce()
            try:
                with transaction(self._factory) as s:
                    s.add(NonceCounter(chain_id=key[0], address=key[1], next_nonce=seed))
            except IntegrityError:
                pass  # another request created it first
        self._counters.add(key)

    def _take_nonce(self, s: Session, chain: ChainLink) -> int:
        """The next nonce of the minter, under the counter's write lock (held until commit)."""
        got = s.execute(
            text(
                "UPDATE nonce_counters SET next_nonce = next_nonce + 1 "
                "WHERE chain_id = :c AND address = :a RETURNING next_nonce"
            ),
            {"c": chain.chain_id, "a": chain.minter.address},
        ).scalar()
        if got is None:
            raise ServiceError(
                "the minter's nonce counter is missing", code="nonce_counter_missing"
            )
        return int(got) - 1

    def _send(self, row: Mint) -> bool:
        assert row.raw_tx is not None and row.tx_hash is not None
        chain = self.chain
        if not _mined(chain, row.tx_hash):
            try:
                chain.minter.send_raw(row.raw_tx)
            except ChainError as e:
                if isinstance(e, ChainUnavailable):
                    raise
                return self._fail(row.id, e.code, str(e))
        self._set(row.id, expect="signed", status="sent")
        return True

    def _confirm(self, row: Mint, *, wait: float) -> bool:
        assert row.tx_hash is not None
        chain = self.chain
        try:
            receipt = chain.minter.wait_receipt(
                row.tx_hash, confirmations=self._confirmations, timeout=wait
            )
        except ReceiptTimeout as e:
            self._note_error(row.id, e.code, str(e))
            return False
        except TransactionReverted as e:
            return self._fail(row.id, "mint_reverted", str(e))
        self._set(
            row.id,
            expect="sent",
            status="confirmed",
            token_id=chain.minter.token_id_from_receipt(receipt),
            block_number=int(receipt["blockNumber"]),
            error_code=None,
            error=None,
        )
        return True

    # -- custodial transfer --------------------------------------------------------------------

    def transfer(self, mint_id: str, *, user_id: int, to: str) -> MintView:
        """Move a token the service holds for the user to ``to`` (``safeTransferFrom``)."""
        chain = self.chain
        to = parse_address(to)
        view = self.get(mint_id, user_id=user_id)
        if view.status != "confirmed" or not view.custodial:
            raise InvalidInput(
                "only a confirmed mint held by the service can be transferred",
                code="not_transferable",
            )
        if view.transfer_status not in (None, "failed"):
            if self._transfer_target(mint_id) != to:
                raise InvalidInput(
                    "this token is already being transferred, or was, to another address",
                    code="transfer_busy",
                )
            return self._finish_transfer(mint_id)
        self._ensure_counter(chain)
        with transaction(self._factory) as s:
            claimed = s.execute(
                update(Mint)
                .where(Mint.id == mint_id)
                .where((Mint.transfer_status.is_(None)) | (Mint.transfer_status == "failed"))
                .values(transfer_status="signed", transfer_to=to, updated_at=self._now())
            )
            if claimed.rowcount:  # type: ignore[attr-defined]
                self._sign_transfer(s, mint_id, view, to)
        return self._finish_transfer(mint_id)

    def _sign_transfer(self, s: Session, mint_id: str, view: MintView, to: str) -> None:
        chain = self.chain
        assert view.token_id is not None
        nonce = self._take_nonce(s, chain)
        tx = chain.minter.build_transfer_tx(
            from_address=chain.minter.address, to=to, token_id=view.token_id, nonce=nonce
        )
        signed = chain.minter.sign(tx)
        s.execute(
            update(Mint)
            .where(Mint.id == mint_id)
            .values(transfer_nonce=nonce, transfer_raw_tx=signed.raw, transfer_tx_hash=signed.hash)
        )

    def _transfer_target(self, mint_id: str) -> str | None:
        with self._factory() as s:
            row = s.get(Mint, mint_id)
        return row.transfer_to if row else None

    def _finish_transfer(self, mint_id: str) -> MintView:
        chain = self.chain
        with self._factory() as s:
            row = s.get(Mint, mint_id)
        assert row is not None
        if row.transfer_status == "signed":
            assert row.transfer_raw_tx is not None and row.transfer_tx_hash is not None
            if not _mined(chain, row.transfer_tx_hash):
                chain.minter.send_raw(row.transfer_raw_tx)
            self._set(mint_id, transfer_status="sent")
        if row.transfer_status in ("signed", "sent"):
            assert row.transfer_tx_hash is not None
            try:
                chain.minter.wait_receipt(
                    row.transfer_tx_hash, confirmations=self._confirmations, timeout=self._timeout
                )
            except ReceiptTimeout:
                return self.get(mint_id)
            except TransactionReverted as e:
                self._set(mint_id, transfer_status="failed", error_code=e.code, error=str(e))
                return self.get(mint_id)
            self._set(mint_id, transfer_status="confirmed")
        return self.get(mint_id)

    def recover(self) -> list[MintView]:
        """Finish every mint a crash or an outage left unfinished (run at start-up)."""
        with self._factory() as s:
            ids = s.scalars(select(Mint.id).where(Mint.status.not_in(TERMINAL))).all()
        done = []
        for mint_id in ids:
            try:
                done.append(self.advance(mint_id))
            except MintUnavailable:
                done.append(self.get(mint_id))
        return done

    def recover_forever(self, stop: threading.Event, *, every: float = 30.0) -> None:
        """:meth:`recover` now and every ``every`` seconds until ``stop`` is set. Safe with
        several processes: every step is conditional, and re-sending saved bytes is harmless."""
        while not stop.is_set():
            try:
                self.recover()
            except Exception:
                log.exception("mint recovery round failed; retrying")
            stop.wait(every)

    def wait(self, mint_id: str, *, timeout: float, poll: float = 0.05) -> MintView:
        deadline = time.monotonic() + timeout
        view = self.get(mint_id)
        while view.status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(poll)
            view = self.get(mint_id)
        return view
