"""Wallet links: a user proves an address with a Sign-In with Ethereum (EIP-4361) message.

Read-only by construction: the only thing a wallet is ever asked for is a ``personal_sign`` of
the SIWE text; nothing here builds a transaction for a user's wallet. Nonces are issued to one
session (the hash of its cookie or bearer token), used once, and expire after 10 minutes; the
nonce is consumed with one conditional UPDATE, so a replayed message fails even when two arrive
at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from ..chain.siwe import SiweMessage, generate_nonce, parse_message, verify_message
from ..storage.db import as_utc, transaction
from ..storage.models import SiweNonce, Wallet
from .errors import NotFound, ServiceError

__all__ = ["NONCE_TTL", "NonceView", "WalletView", "Wallets"]

NONCE_TTL = timedelta(minutes=10)


class NonceRejected(ServiceError):
    code = "siwe_bad_nonce"


class WalletTaken(ServiceError):
    code = "wallet_taken"


@dataclass(frozen=True, slots=True)
class NonceView:
    nonce: str
    issued_at: datetime
    expires_at: datetime
    domain: str
    uri: str
    chain_ids: list[int]


@dataclass(frozen=True, slots=True)
class WalletView:
    address: str
    chain_id: int
    signer_kind: str
    linked_at: datetime


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _recovers(message: str, signature: str, address: str) -> bool:
    """Whether an EOA signature of ``message`` recovers to ``address`` (else it was EIP-1271)."""
    try:
        found = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:
        return False
    return bool(found == address)


class Wallets:
    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        public_url: str,
        chain_ids: Collection[int],
        w3_for: Callable[[int], Web3 | None] = lambda _chain: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        parts = urlsplit(public_url)
        self._scheme = parts.scheme
        self._domain = parts.netloc
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._factory = factory
        self._chain_ids = sorted(chain_ids)
        self._w3_for = w3_for
        self._now = now

    def issue_nonce(self, user_id: int, *, session_token: str) -> NonceView:
        now = self._now()
        nonce = generate_nonce()
        with transaction(self._factory) as s:
            s.execute(delete(SiweNonce).where(SiweNonce.expires_at < now - NONCE_TTL))
            s.add(
                SiweNonce(
                    nonce=nonce,
                    user_id=user_id,
                    session_sha256=_sha256(session_token),
                    issued_at=now,
                    expires_at=now + NONCE_TTL,
                )
            )
        return NonceView(nonce, now, now + NONCE_TTL, self._domain, self._origin, self._chain_ids)

    def link(self, user_id: int, *, session_token: str, message: str, signature: str) -> WalletView:
        """Verify the signed SIWE message, consume its nonce, and link the address."""
        parsed: SiweMessage = parse_message(message)
        verified = verify_message(
            message,
            signature,
            domain=self._domain,
            scheme=self._scheme,
            uri_origin=self._origin,
            chain_ids=self._chain_ids,
            now=self._now(),
            w3=self._w3_for(parsed.chain_id),
        )
        self._consume(verified.nonce, user_id=user_id, session_token=session_token)
        kind = "eoa" if _recovers(message, signature, verified.address) else "eip1271"
        row = Wallet(
            user_id=user_id,
            address=verified.address,
            chain_id=verified.chain_id,
            signer_kind=kind,
            linked_at=self._now(),
        )
        try:
            with transaction(self._factory) as s:
                s.add(row)
        except IntegrityError:
            with self._factory() as s:
                existing = s.scalar(select(Wallet).where(Wallet.address == verified.address))
            if existing is None or existing.user_id != user_id:
                raise WalletTaken(f"{verified.address} is linked to another account") from None
            row = existing
        return self._view(row)

    def _consume(self, nonce: str, *, user_id: int, session_token: str) -> None:
        now = self._now()
        with transaction(self._factory) as s:
            result = s.execute(
                update(SiweNonce)
                .where(
                    SiweNonce.nonce == nonce,
                    SiweNonce.user_id == user_id,
                    SiweNonce.session_sha256 == _sha256(session_token),
                    SiweNonce.used_at.is_(None),
                    SiweNonce.expires_at > now,
                )
                .values(used_at=now)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NonceRejected(
                "the message's nonce was not issued to this session, was used, or expired"
            )

    def unlink(self, user_id: int, address: str) -> None:
        with transaction(self._factory) as s:
            result = s.execute(
                delete(Wallet).where(
                    Wallet.user_id == user_id, Wallet.address.ilike(address.strip())
                )
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"no linked wallet {address[:60]!r}", code="wallet_not_found")

    def list_for(self, user_id: int) -> list[WalletView]:
        with self._factory() as s:
            rows = s.scalars(
                select(Wallet).where(Wallet.user_id == user_id).order_by(Wallet.linked_at)
            ).all()
        return [self._view(r) for r in rows]

    def addresses_of(self, user_ids: set[int]) -> dict[int, set[str]]:
        """user ID → linked addresses, for many users in one query per 500."""
        found: dict[int, set[str]] = {u: set() for u in user_ids}
        ids = sorted(user_ids)
        with self._factory() as s:
            for i in range(0, len(ids), 500):
                rows = s.execute(
                    select(Wallet.user_id, Wallet.address).where(
                        Wallet.user_id.in_(ids[i : i + 500])
                    )
                ).all()
                for user_id, address in rows:
                    found[user_id].add(address)
        return found

    def addresses(self, user_id: int) -> list[str]:
        return [w.address for w in self.list_for(user_id)]

    @staticmethod
    def _view(row: Wallet) -> WalletView:
        return WalletView(row.address, row.chain_id, row.signer_kind, as_utc(row.linked_at))
