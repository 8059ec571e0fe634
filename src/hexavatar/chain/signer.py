"""Transaction signing keys and V3 JSON keystores.

A :class:`Signer` holds one private key and signs EIP-1559 transactions; its ``repr``/``str`` show
only the address, and the key is reachable only through the explicitly named
:meth:`Signer.unsafe_export_key`. Keystores are Ethereum V3 JSON (scrypt by default) via
:mod:`eth_account`. A keystore's password comes from an environment variable or a file, is never
logged and never appears in an error message.

Signing speed: :mod:`eth_keys` (under eth_account) picks ``CoinCurveECCBackend`` automatically when
:mod:`coincurve` is installed (libsecp256k1, far faster than the pure-Python backend);
:func:`signing_backend` reports which one is in use.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys.backends import get_backend
from eth_typing import ChecksumAddress

from .errors import KeystoreError, quote

__all__ = [
    "PASSWORD_ENV",
    "PASSWORD_FILE_ENV",
    "SignedTx",
    "Signer",
    "decrypt_keystore",
    "encrypt_keystore",
    "load_keystore",
    "read_password",
    "save_keystore",
    "signing_backend",
]

PASSWORD_ENV = "HEXAVATAR_MINTER_PASSWORD"
PASSWORD_FILE_ENV = "HEXAVATAR_MINTER_PASSWORD_FILE"


def signing_backend() -> str:
    """Class name of the secp256k1 backend eth_keys uses (``CoinCurveECCBackend`` expected)."""
    return type(get_backend()).__name__


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction: raw bytes to send and its hash (``0x``-hex)."""

    raw: bytes
    hash: str


class Signer:
    """One secp256k1 key that signs transactions. Build with :meth:`from_key` or a keystore."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @classmethod
    def from_key(cls, private_key: str | bytes) -> Signer:
        try:
            return cls(Account.from_key(private_key))
        except (ValueError, TypeError) as exc:
            raise KeystoreError(
                "expected a 32-byte secp256k1 private key, found an invalid one"
            ) from exc

    @classmethod
    def generate(cls) -> Signer:
        """A new random key (from the OS's CSPRNG)."""
        return cls(Account.from_key(os.urandom(32)))

    @property
    def address(self) -> ChecksumAddress:
        return self._account.address

    def sign_transaction(self, tx: Mapping[str, Any]) -> SignedTx:
        """Sign a complete transaction dict (nonce, gas, fees, chainId all set)."""
        signed = self._account.sign_transaction(dict(tx))
        return SignedTx(raw=bytes(signed.raw_transaction), hash="0x" + signed.hash.hex())

    def unsafe_export_key(self) -> bytes:
        """The raw private key. Named unsafe: it must never be logged or sent anywhere."""
        return bytes(self._account.key)

    def __repr__(self) -> str:
        return f"Signer(address={self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Signer cannot be pickled (it holds a private key)")


def encrypt_keystore(
    signer: Signer, password: str, *, iterations: int | None = None
) -> dict[str, Any]:
    """V3 keystore JSON (scrypt) of ``signer``'s key; ``iterations`` lowers cost in tests."""
    if not password:
        raise KeystoreError("expected a non-empty keystore password, found an empty one")
    result: dict[str, Any] = Account.encrypt(
        signer.unsafe_export_key(), password, kdf="scrypt", iterations=iterations
    )
    return result


def decrypt_keystore(keystore: Mapping[str, Any] | str, password: str) -> Signer:
    """Open a V3 keystore (dict or JSON text); :class:`KeystoreError` on a wrong password."""
    try:
        data = json.loads(keystore) if isinstance(keystore, str) else dict(keystore)
    except ValueError as exc:
        raise KeystoreError("expected keystore JSON, found text that does not parse") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        # eth_account's messages never include the password; keep only the class of failure.
        found = "a wrong password" if "MAC" in str(exc) else "an unreadable keystore"
        raise KeystoreError(f"expected a keystore this password opens, found {found}") from None
    except (KeyError, TypeError) as exc:
        raise KeystoreError(
            f"expected V3 keystore fields, found none for {quote(str(exc))}"
        ) from None
    return Signer.from_key(bytes(key))


def save_keystore(
    path: Path, signer: Signer, password: str, *, iterations: int | None = None
) -> None:
    """Write ``signer`` as a keystore file (mode 0600, atomically)."""
    data = encrypt_keystore(signer, password, iterations=iterations)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keystore-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_password(
    *, env: Mapping[str, str] | None = None, password_file: Path | None = None
) -> str:
    """The keystore password: ``password_file``, else ``$HEXAVATAR_MINTER_PASSWORD_FILE``, else
    ``$HEXAVATAR_MINTER_PASSWORD``. A file's trailing newline is dropped."""
    env = os.environ if env is None else env
    file_name = password_file or (
        Path(env[PASSWORD_FILE_ENV]) if env.get(PASSWORD_FILE_ENV) else None
    )
    if file_name is not None:
        try:
            return file_name.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeystoreError(
                f"expected a readable password file at {quote(str(file_name))}: {exc.strerror}"
            ) from None
    password = env.get(PASSWORD_ENV)
    if password:
        return password
    raise KeystoreError(
        f"expected a keystore password in ${PASSWORD_FILE_ENV} or ${PASSWORD_ENV}, found neither"
    )


def load_keystore(
    path: Path,
    *,
    password: str | None = None,
    env: Mapping[str, str] | None = None,
    password_file: Path | None = None,
) -> Signer:
    """Open the keystore file at ``path`` (password given, or from :func:`read_password`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeystoreError(
            f"expected a readable keystore at {quote(str(path))}: {exc.strerror}"
        ) from None
    if password is None:
        password = read_password(env=env, password_file=password_file)
    return decrypt_keystore(text, password)
