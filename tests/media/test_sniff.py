"""The format is decided from magic bytes only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from media_samples import encode, gif, jpeg, quadrants

from hexavatar.media import UnsupportedFormat, process_image, sniff_format

SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg(quadrants(8, 8)), "jpeg"),
        (encode(quadrants(8, 8), "PNG"), "png"),
        (encode(quadrants(8, 8), "WEBP"), "webp"),
        (gif([quadrants(8, 8)]), "gif"),
        (b"GIF87a" + b"\x00" * 10, "gif"),
    ],
)
def test_sniffs_accepted_formats(data: bytes, expected: str) -> None:
    assert sniff_format(data) == expected
    assert sniff_format(data[:12]) == expected


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        encode(quadrants(8, 8), "BMP"),
        encode(quadrants(8, 8), "TIFF"),
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
        b"\x89PNG\r\n",  # a cut signature
        b"\x00" * 64,
        b"\xff\xd8",  # JPEG SOI without a following marker
    ],
)
def test_rejects_other_formats_whatever_they_are_called(data: bytes) -> None:
    assert sniff_format(data) is None
    with pytest.raises(UnsupportedFormat) as caught:
        process_image(data)
    assert caught.value.code == "unsupported_format"
    assert "JPEG, PNG, WebP or GIF" in str(caught.value)


@given(st.binary(min_size=1, max_size=64))
def test_random_bytes_are_unsupported_unless_they_carry_a_signature(data: bytes) -> None:
    known = data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    assert (sniff_format(data) is not None) == known
