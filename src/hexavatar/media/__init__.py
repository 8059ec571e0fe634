"""hexavatar.media: the image pipeline (validate, normalise, renditions, identicons, hexagon, SVG).

A library on its own: it imports Pillow and the standard library only, and ``resvg_py`` in the
child process that rasterises SVG (see :mod:`.svg`). Untrusted bytes go in,
clean re-encoded bytes come out; anything refused raises a :class:`MediaError` subclass with a
machine-readable ``code``. See docs/media.md.
"""

from __future__ import annotations

from .decode import DecodedImage, decode_image
from .errors import (
    CorruptImage,
    EmptyFile,
    FileTooLarge,
    ImageTooLarge,
    InvalidSize,
    MediaError,
    SvgRejected,
    SvgTimeout,
    UnsupportedFormat,
)
from .hexagon import hexagon_alpha, hexagon_mask
from .identicon import identicon
from .limits import RENDITION_SIZES, ImageLimits
from .renditions import (
    MAX_RENDITION_SIZE,
    ProcessedImage,
    Rendition,
    RenditionFormat,
    process_image,
)
from .sniff import SourceFormat, sniff_format
from .svg import SvgLimits, rasterise_svg

__all__ = [
    "MAX_RENDITION_SIZE",
    "RENDITION_SIZES",
    "CorruptImage",
    "DecodedImage",
    "EmptyFile",
    "FileTooLarge",
    "ImageLimits",
    "ImageTooLarge",
    "InvalidSize",
    "MediaError",
    "ProcessedImage",
    "Rendition",
    "RenditionFormat",
    "SourceFormat",
    "SvgLimits",
    "SvgRejected",
    "SvgTimeout",
    "UnsupportedFormat",
    "decode_image",
    "hexagon_alpha",
    "hexagon_mask",
    "identicon",
    "process_image",
    "rasterise_svg",
    "sniff_format",
]
