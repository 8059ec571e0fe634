"""Errors raised by ``hexavatar.chain``.

One base class, :class:`ChainError`; every subclass also inherits the builtin it resembles
(``ValueError`` for bad input), and carries a stable ``code`` that the web layer maps to an
HTTP status once, at the edge. Messages say what was expected and what was found; untrusted
input is quoted with :func:`quote_input`, which truncates it.
"""

from __future__ import annotations

__all__ = [
    "ChainError",
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
    "quote_input",
]


def quote_input(value: object, *, limit: int = 80) -> str:
    """``repr`` of untrusted input, cut to ``limit`` characters so errors stay small."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ChainError(Exception):
    """Base class of every error raised by ``hexavatar.chain``."""

    code: str = "chain_error"


# --- Sign-In with Ethereum (siwe.py) -------------------------------------------------------


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
