"""Errors of :mod:`hexavatar.chain`.

Every error derives from :class:`ChainError` and also from the builtin it most resembles, so a
caller may catch either (``except TimeoutError`` keeps working). Each class has a ``code`` that the
web layer maps to an HTTP status once, at the edge. Messages say what was expected and what was
found; untrusted input is quoted with :func:`quote` (``repr``, truncated). No message ever holds a
private key or a password.
"""

from __future__ import annotations

__all__ = [
    "AnvilNotFound",
    "ArtifactError",
    "CallReverted",
    "ChainError",
    "ChainUnavailable",
    "ContractCallError",
    "DeploymentError",
    "DevNodeError",
    "KeystoreError",
    "MalformedResponse",
    "MintReverted",
    "NonceConflict",
    "ReceiptTimeout",
    "ResponseTooLarge",
    "TokenNotFound",
    "TransactionRejected",
    "TransactionReverted",
    "quote",
]

_QUOTE_LIMIT = 80


def quote(value: object, limit: int = _QUOTE_LIMIT) -> str:
    """Return ``repr(value)`` cut to about ``limit`` characters, for error messages."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class ChainError(Exception):
    """Base class of every error raised by :mod:`hexavatar.chain`."""

    code: str = "chain_error"


class ChainUnavailable(ChainError, ConnectionError):
    """The JSON-RPC node cannot be reached or answered with a transport error."""

    code = "chain_unavailable"


class AnvilNotFound(ChainError, FileNotFoundError):
    """No anvil binary was found (env var, the repo's node_modules, PATH)."""

    code = "anvil_not_found"


class DevNodeError(ChainError, RuntimeError):
    """The development chain process failed to start, exited early or did not stop."""

    code = "devnode_failed"


class ArtifactError(ChainError, LookupError):
    """A compiled contract is missing from the package's build output or is malformed."""

    code = "artifact_missing"


class DeploymentError(ChainError, RuntimeError):
    """A contract deployment failed or left no code at the expected address."""

    code = "deploy_failed"


class KeystoreError(ChainError, ValueError):
    """A keystore cannot be read, decrypted (wrong password) or written."""

    code = "keystore_invalid"


class TransactionRejected(ChainError, ValueError):
    """The node refused a signed transaction (bad nonce, underpriced, insufficient funds)."""

    code = "transaction_rejected"


class NonceConflict(TransactionRejected):
    """The transaction's nonce was already used (or is otherwise not the next one)."""

    code = "nonce_conflict"


class TransactionReverted(ChainError, RuntimeError):
    """A transaction was mined with status 0, or its gas estimate shows it would revert."""

    code = "transaction_reverted"


class MintReverted(TransactionReverted):
    """A mint transaction reverted (caller not a minter, unsupported codec, bad recipient)."""

    code = "mint_reverted"


class ReceiptTimeout(ChainError, TimeoutError):
    """No receipt (with the asked confirmations) arrived within the timeout."""

    code = "receipt_timeout"


class ContractCallError(ChainError, ValueError):
    """A read-only call to a contract failed or returned something unusable."""

    code = "contract_call_failed"


class CallReverted(ContractCallError):
    """A read-only call reverted or ran out of gas."""

    code = "call_reverted"


class TokenNotFound(CallReverted, LookupError):
    """``ownerOf``/``tokenURI`` reverted: the token does not exist (or the contract refuses)."""

    code = "token_not_found"


class MalformedResponse(ContractCallError):
    """A call's return data does not ABI-decode as the expected type."""

    code = "malformed_response"


class ResponseTooLarge(ContractCallError):
    """A call's return data is larger than the caller's cap."""

    code = "response_too_large"


# --- Sign-In with Ethereum (siwe.py) -------------------------------------------------------

__all__ += [
    "SiweAddressError",
    "SiweChainIdError",
    "SiweDomainError",
    "SiweDuplicateFieldError",
    "SiweError",
    "SiweExpiredError",
    "SiweFieldOrderError",
    "SiweIssuedInFutureError",
    "SiweMalformedError",
    "SiweNotYetValidError",
    "SiweSchemeError",
    "SiweSignatureError",
    "SiweSignerMismatchError",
    "SiweUnknownFieldError",
    "SiweUriError",
]


class SiweError(ChainError, ValueError):
    """A Sign-In with Ethereum message or signature was refused."""

    code = "siwe_invalid"


class SiweMalformedError(SiweError):
    """The message text does not follow the EIP-4361 grammar."""

    code = "siwe_malformed"


class SiweUnknownFieldError(SiweMalformedError):
    """A line that is no EIP-4361 field."""

    code = "siwe_unknown_field"


class SiweDuplicateFieldError(SiweMalformedError):
    """An EIP-4361 field given more than once."""

    code = "siwe_duplicate_field"


class SiweFieldOrderError(SiweMalformedError):
    """EIP-4361 fields out of their fixed order."""

    code = "siwe_field_order"


class SiweAddressError(SiweMalformedError):
    """The address is not an EIP-55 checksummed address."""

    code = "siwe_bad_address"


class SiweDomainError(SiweError):
    """The message was made for another domain."""

    code = "siwe_bad_domain"


class SiweSchemeError(SiweError):
    """The message was made for another scheme."""

    code = "siwe_bad_scheme"


class SiweUriError(SiweError):
    """The message's URI is not on this service's origin."""

    code = "siwe_bad_uri"


class SiweChainIdError(SiweError):
    """The message names a chain this service does not accept."""

    code = "siwe_bad_chain"


class SiweExpiredError(SiweError):
    """The message's expiration time has passed."""

    code = "siwe_expired"


class SiweNotYetValidError(SiweError):
    """The message's not-before time is still to come."""

    code = "siwe_not_yet_valid"


class SiweIssuedInFutureError(SiweError):
    """The message claims to be issued later than now (beyond the allowed clock skew)."""

    code = "siwe_issued_in_future"


class SiweSignatureError(SiweError):
    """The signature is malformed: wrong length, bad recovery id, high s, r or s out of range."""

    code = "siwe_bad_signature"


class SiweSignerMismatchError(SiweError):
    """The signature is well formed but was not made by the message's address."""

    code = "siwe_wrong_signer"


# --- token reads (tokens.py), appended -----------------------------------------------------

__all__ += ["CallOutOfGas"]


class CallOutOfGas(CallReverted):
    """A read-only call hit its gas cap (or memory limit): the contract is too costly to read."""

    code = "call_out_of_gas"


__all__ += ["InvalidAddress"]


class InvalidAddress(ChainError, ValueError):
    """A value given as an Ethereum address is not 20 bytes of hex (or fails its EIP-55 case)."""

    code = "invalid_address"
