"""The public surface of hexavatar.resolve: pinned, typed, and error codes unique."""

from __future__ import annotations

import inspect

import hexavatar.resolve as resolve
from hexavatar.resolve import errors


def test_all_is_pinned() -> None:
    assert sorted(resolve.__all__) == [
        "AddressPolicy", "ArweaveUri", "BadUrlError", "DataUri", "DataUriTooLargeError",
        "FetchError", "FetchResult", "FetchTimeoutError", "FetchTooLargeError", "HttpUri",
        "IpfsUri", "IpnsUri", "NftRef", "NftRefError", "ResolveError", "SafeHttpClient",
        "SchemeNotAllowedError", "SsrfBlockedError", "TokenUri", "TooManyRedirectsError",
        "UnsupportedContentEncodingError", "UriError", "blocked_reason", "classify_uri",
        "embedded_ipv4", "fetch", "is_cid", "is_public_ip", "parse_nft_ref", "select_image",
        "substitute_token_id",
    ]  # fmt: skip
    for name in resolve.__all__:
        assert hasattr(resolve, name), name


def test_every_error_has_a_unique_code_and_a_builtin_base() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.ResolveError)
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        if cls is not errors.ResolveError:
            builtins = [b for b in cls.__mro__ if b.__module__ == "builtins"]
            assert builtins[0] is not Exception, cls  # also a ValueError, OSError, ...


def test_imports_point_down() -> None:
    import ast
    from pathlib import Path

    for path in Path(resolve.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith(("hexavatar.services", "hexavatar.web")), path
