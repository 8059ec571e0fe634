"""The upload pipeline: validate, decode, orient, strip, crop to a square, render sizes.

Every rendition is re-encoded from pixels, so nothing of the input survives but the picture:
no EXIF (GPS included), XMP, ICC profile, comment or text chunk, and no bytes appended after
the image data. Each size is made both as WebP (lossy, quality 85, method 4; lossless alpha
plane) and as PNG. The PNG encoder uses zlib's RLE strategy (with PNG's adaptive filters): on
photographs at 512 px it is 3-4x faster than the default strategy at level 6, and its output
is 0-30 % larger; WebP is the primary format, PNG the fallback.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from .decode import decode_image
from .errors import InvalidSize
from .limits import RENDITION_SIZES, ImageLimits
from .sniff import SourceFormat

__all__ = [
    "MAX_RENDITION_SIZE",
    "ProcessedImage",
    "Rendition",
    "RenditionFormat",
    "crop_square",
    "encode",
    "process_image",
]

RenditionFormat = Literal["webp", "png"]

#: The largest edge length a caller may ask for (renditions, identicons, hexagons).
MAX_RENDITION_SIZE = 2048

_CONTENT_TYPES: dict[RenditionFormat, str] = {"webp": "image/webp", "png": "image/png"}
_WEBP_QUALITY = 85
_WEBP_METHOD = 4
_PNG_COMPRESS_LEVEL = 6
_PNG_STRATEGY = zlib.Z_RLE


@dataclass(frozen=True, slots=True)
class Rendition:
    """One encoded square rendition of an image."""

    size: int
    format: RenditionFormat
    data: bytes

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """The result of :func:`process_image`.

    ``sha256`` is the hex digest of the input bytes as received; ``width`` x ``height`` is the
    source size after EXIF orientation, before the square crop. ``renditions`` holds each size
    in ascending order, WebP before PNG.
    """

    sha256: str
    source_format: SourceFormat
    width: int
    height: int
    renditions: tuple[Rendition, ...]

    def rendition(self, size: int, fmt: RenditionFormat) -> Rendition:
        """Return the rendition of ``size`` in ``fmt``; ``KeyError`` if none was made."""
        for rendition in self.renditions:
            if rendition.size == size and rendition.format == fmt:
                return rendition
        raise KeyError(f"no {fmt} rendition of size {size}")


def process_image(
    data: bytes,
    *,
    limits: ImageLimits = ImageLimits(),
    sizes: Sequence[int] = RENDITION_SIZES,
) -> ProcessedImage:
    """Validate ``data`` (JPEG, PNG, WebP or GIF) and render it at every size in ``sizes``.

    Raises a :class:`~hexavatar.media.errors.MediaError` subclass for any input it refuses.
    """
    ordered = _check_sizes(sizes)
    decoded = decode_image(data, limits=limits, min_side=ordered[-1])
    squares = _squares(decoded.image, ordered)
    renditions = tuple(
        Rendition(size, fmt, encode(squares[size], fmt))
        for size in ordered
        for fmt in ("webp", "png")
    )
    return ProcessedImage(
        sha256=hashlib.sha256(data).hexdigest(),
        source_format=decoded.source_format,
        width=decoded.width,
        height=decoded.height,
        renditions=renditions,
    )


def crop_square(image: Image.Image, *, size: int) -> Image.Image:
    """Centre-crop ``image`` to a square and resample it to ``size`` x ``size`` (Lanczos)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    box = (left, top, left + side, top + side)
    square = image.resize((size, size), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    square.info = {}
    return square


def encode(image: Image.Image, fmt: RenditionFormat) -> bytes:
    """Encode ``image`` as WebP or PNG with no metadata at all."""
    out = io.BytesIO()
    if fmt == "webp":
        image.save(
            out,
            "WEBP",
            quality=_WEBP_QUALITY,
            method=_WEBP_METHOD,
            alpha_quality=100,
            icc_profile=None,
            exif=b"",
            xmp=b"",
        )
    else:
        image.save(
            out,
            "PNG",
            compress_level=_PNG_COMPRESS_LEVEL,
            compress_type=_PNG_STRATEGY,
            icc_profile=None,
        )
    return out.getvalue()


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    ordered = sorted(set(sizes))
    if not ordered or ordered[0] < 1 or ordered[-1] > MAX_RENDITION_SIZE:
        raise InvalidSize(
            f"expected rendition sizes between 1 and {MAX_RENDITION_SIZE}, found {list(sizes)!r}"
        )
    return ordered


def _squares(image: Image.Image, ordered: list[int]) -> dict[int, Image.Image]:
    """Render the largest square from the source, then each smaller one from the next larger."""
    largest = crop_square(image, size=ordered[-1])
    squares = {ordered[-1]: largest}
    previous = largest
    for size in reversed(ordered[:-1]):
        previous = previous.resize((size, size), Image.Resampling.LANCZOS)
        squares[size] = previous
    return squares
