"""Decide an upload's format from its magic bytes, never from its name or declared type."""

from __future__ import annotations

from typing import Literal

__all__ = ["SNIFF_BYTES", "SourceFormat", "sniff_format"]

SourceFormat = Literal["jpeg", "png", "webp", "gif"]

#: How many leading bytes :func:`sniff_format` needs to recognise every accepted format.
SNIFF_BYTES = 12

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"
_GIF_SIGNATURES = (b"GIF87a", b"GIF89a")


def sniff_format(head: bytes) -> SourceFormat | None:
    """Return the accepted format whose signature starts ``head``, or ``None``.

    Only the first :data:`SNIFF_BYTES` bytes matter. SVG, HTML, text and every format
    other than JPEG, PNG, WebP and GIF give ``None``.
    """
    if head.startswith(_JPEG_SOI):
        return "jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(_GIF_SIGNATURES):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None
