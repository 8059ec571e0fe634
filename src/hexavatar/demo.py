"""``hexavatar demo``: the seed's whole story on the embedded defaults, with real outputs.

1. a regular upload: the picture's renditions in the object store (URLs) and its database row;
2. a mint: image + name + description → token ID, metadata URI, image URI, tx hash;
3. the transfer of the token to the owner's address;
4. the read-only wallet link (Sign-In with Ethereum: the wallet signs a message, never a tx);
5. the NFT avatar read back from the contract and IPFS, with what was verified;
6. the revocation: the owner's wallet sends the token away, the watcher reverts the avatar.

The owner's wallet is played by a fresh key made for each run (funded on the development chain):
the demo signs the SIWE message and, in step 6, the owner's own transfer with it, as the user's
wallet would.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address
from PIL import Image, ImageDraw
from sqlalchemy import select

from .chain.siwe import build_message
from .services.minting import MintRequest
from .storage.models import Avatar
from .web.deps import Services

__all__ = ["run_demo"]

# anvil's development account 2 (a well-known address of its test mnemonic) buys the token.
BUYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"

Step = Callable[[str, dict[str, Any]], None]


def _picture(colour: tuple[int, int, int], *, size: int = 640) -> bytes:
    img = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(img)
    r = size * 0.4
    c = size / 2
    draw.polygon([(c + r * x, c + r * y) for x, y in _HEXAGON], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


_HEXAGON = [(0.0, -1.0), (0.866, -0.5), (0.866, 0.5), (0.0, 1.0), (-0.866, 0.5), (-0.866, -0.5)]


def run_demo(services: Services, *, report: Step) -> dict[str, Any]:
    """Run every step, calling ``report(title, outputs)`` after each; the outputs, by step."""
    chain = services.chain
    assert chain is not None, "the demo needs the chain (NFTs enabled)"
    out: dict[str, Any] = {}

    def step(key: str, title: str, data: dict[str, Any]) -> None:
        out[key] = data
        report(title, data)

    username = f"demo_{secrets.token_hex(3)}"
    user = services.accounts.signup(username, secrets.token_urlsafe(12))
    upload = services.avatars.set_upload(user.id, _picture((40, 90, 160)))
    with services.factory() as s:
        row = s.scalar(select(Avatar).where(Avatar.id == upload.id))
        assert row is not None
        db_row = {
            "table": "avatars", "id": row.id, "user": username, "kind": row.kind,
            "sha256": row.sha256, "format": row.source_format, "width": row.width,
            "height": row.height, "renditions": len(row.renditions),
        }  # fmt: skip
    step("upload", "1. Regular profile picture: object store + database", {
        "object_urls": {str(k): v for k, v in upload.renditions.items()},
        "database_row": db_row,
    })  # fmt: skip

    # A fresh wallet each run (an address links to one account), given gas money on the
    # development chain so that it can send the token away itself in step 6.
    owner_account = Account.create()
    owner, owner_key = owner_account.address, owner_account.key
    chain.w3.provider.make_request("anvil_setBalance", [owner, hex(10**18)])  # type: ignore[arg-type]
    req = MintRequest.parse(
        image=_picture((200, 120, 30)), name="Hexavatar demo", description="Minted by the demo",
        attributes='[{"trait_type": "shape", "value": "hexagon"}]', to=None,
        idempotency_key=None,
    )  # fmt: skip
    mint = services.minting.submit(user.id, req)
    step("mint", "2. Mint: image + name + description → token", {
        "token_id": mint.token_id, "metadata_uri": mint.metadata_uri,
        "image_uri": mint.image_uri, "tx_hash": mint.tx_hash, "contract": mint.contract,
        "chain_id": mint.chain_id, "status": mint.status,
    })  # fmt: skip

    moved = services.minting.transfer(mint.id, user_id=user.id, to=owner)
    step("transfer", "3. Transfer to the owner's address", {
        "to": owner, "tx_hash": moved.transfer_tx_hash, "status": moved.transfer_status,
        "owner_on_chain": moved.owner,
    })  # fmt: skip

    session = services.accounts.issue_token(user.id, kind="session")
    nonce = services.wallets.issue_nonce(user.id, session_token=session)
    message = build_message(
        scheme=services.settings.effective_public_url.split("://")[0], domain=nonce.domain,
        address=owner, statement="Link this wallet to Hexavatar (read-only).", uri=nonce.uri,
        chain_id=chain.chain_id, nonce=nonce.nonce, issued_at=datetime.now(UTC),
    ).to_text()  # fmt: skip
    signature = Account.sign_message(encode_defunct(text=message), owner_key).signature.hex()
    wallet = services.wallets.link(
        user.id, session_token=session, message=message, signature="0x" + signature
    )
    step("wallet", "4. Read-only wallet link (Sign-In with Ethereum)", {
        "address": wallet.address, "signed_message": message, "signer": wallet.signer_kind,
    })  # fmt: skip

    ref = f"eip155:{chain.chain_id}/erc721:{chain.contract}/{mint.token_id}"
    nft = services.nft_avatars.set_avatar(user.id, ref)
    step("nft_avatar", "5. NFT avatar read back from the contract and IPFS", {
        "ref": ref, "owner": nft.owner, "block": nft.block_number, "token_uri": nft.token_uri,
        "metadata_cid": nft.metadata_cid, "metadata_verified": nft.metadata_verified,
        "image_cid": nft.image_cid, "image_verified": nft.image_verified, "shape": "hexagon",
        "steps": [f"{s['step']}: {s['detail']}" for s in nft.steps],
    })  # fmt: skip

    w3 = chain.w3
    contract = w3.eth.contract(address=to_checksum_address(chain.contract), abi=_TRANSFER_ABI)
    tx = contract.functions.transferFrom(owner, BUYER, mint.token_id).build_transaction(
        {"from": owner, "nonce": w3.eth.get_transaction_count(owner, "pending")}
    )
    sent = w3.eth.send_raw_transaction(Account.sign_transaction(tx, owner_key).raw_transaction)
    w3.eth.wait_for_transaction_receipt(sent, timeout=60)
    report_ = services.nft_avatars.reverify(chain_id=chain.chain_id)
    latest = services.nft_avatars.latest(user.id)
    _, shown = services.avatars.shown(username)
    step("revocation", "6. The token leaves the wallet: the avatar is reverted", {
        "transfer_tx": "0x" + bytes(sent).hex(), "new_owner": BUYER,
        "dropped": bool(report_.dropped), "reason": latest.dropped_reason if latest else None,
        "now_showing": shown.kind if shown else "default",
        "profile": f"{services.settings.effective_public_url}/api/v1/users/{username}",
    })  # fmt: skip
    return out


_TRANSFER_ABI = [
    {
        "name": "transferFrom",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "from", "type": "address"},
            {"name": "to", "type": "address"},
            {"name": "tokenId", "type": "uint256"},
        ],
        "outputs": [],
    }
]
