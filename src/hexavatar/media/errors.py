"""Errors raised by the image pipeline.

Every error derives from :class:`MediaError` (itself a :class:`ValueError`: bad input,
not a server fault) and also inherits the builtin it resembles. Each class carries a
machine-readable ``code``; the web layer maps codes to HTTP statuses once, at the edge.
Messages say what was expected and what was found, quoting untrusted input truncated.
"""

from __future__ import annotations

__all__ = [
    "CorruptImage",
    "EmptyFile",
    "FileTooLarge",
    "ImageTooLarge",
    "InvalidSize",
    "MediaError",
    "SvgRejected",
    "SvgTimeout",
    "UnsupportedFormat",
    "quote_head",
]


class MediaError(ValueError):
    """Base class of every error raised by :mod:`hexavatar.media`."""

    code: str = "media_error"


class EmptyFile(MediaError):
    """The upload had no bytes at all."""

    code = "empty_file"


class FileTooLarge(MediaError):
    """The upload has more bytes than ``ImageLimits.max_bytes``."""

    code = "file_too_large"


class UnsupportedFormat(MediaError):
    """The magic bytes are not those of an accepted format (JPEG, PNG, WebP, GIF)."""

    code = "unsupported_format"


class ImageTooLarge(MediaError):
    """The header declares more pixels than ``ImageLimits`` allows, or too much decode work."""

    code = "image_too_large"


class CorruptImage(MediaError):
    """The bytes start like an accepted format but cannot be decoded completely."""

    code = "corrupt_image"


class InvalidSize(MediaError):
    """A requested output size is outside the range the pipeline renders."""

    code = "invalid_size"


def quote_head(data: bytes, *, limit: int = 16) -> str:
    """Render the first bytes of untrusted input for an error message."""
    head = data[:limit]
    suffix = "..." if len(data) > limit else ""
    return repr(head) + suffix


class SvgRejected(MediaError):
    """An SVG was refused: not UTF-8 XML with an SVG root, a DTD subset, an external reference,
    too many bytes or elements, or the renderer refused it or ran out of memory."""

    code = "svg_rejected"


class SvgTimeout(MediaError):
    """Rasterising an SVG took longer than ``SvgLimits.timeout``; the renderer was killed."""

    code = "svg_timeout"
