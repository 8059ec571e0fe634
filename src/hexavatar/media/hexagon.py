"""NFT avatars are shown in a hexagon: crop an image to a square and cut a pointy-top hexagon.

The hexagon is regular, inscribed in the square: its top and bottom vertices touch the
square's edges, its flat sides are sqrt(3)/2 of the size apart. Outside it the output is fully
transparent. The edge is antialiased by drawing the mask at 4x and reducing it with a box
filter.
"""

from __future__ import annotations

import math

from PIL import Image, ImageChops, ImageDraw

from .decode import decode_image
from .errors import InvalidSize
from .limits import ImageLimits
from .renditions import MAX_RENDITION_SIZE, crop_square, encode

__all__ = ["hexagon_alpha", "hexagon_mask", "hexagon_vertices"]

_SUPERSAMPLE = 4


def hexagon_mask(image_bytes: bytes, *, size: int, limits: ImageLimits = ImageLimits()) -> bytes:
    """Return a ``size`` x ``size`` PNG of the image, transparent outside the hexagon.

    ``image_bytes`` goes through the same checks as an upload (same errors).
    """
    _check_size(size)
    decoded = decode_image(image_bytes, limits=limits, min_side=size)
    square = crop_square(decoded.image.convert("RGBA"), size=size)
    alpha = ImageChops.multiply(square.getchannel("A"), hexagon_alpha(size))
    square.putalpha(alpha)
    return encode(square, "png")


def hexagon_alpha(size: int) -> Image.Image:
    """Return the antialiased hexagon as an ``L`` image: 255 inside, 0 outside."""
    _check_size(size)
    big = size * _SUPERSAMPLE
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).polygon(hexagon_vertices(big), fill=255)
    return mask.reduce(_SUPERSAMPLE)


def hexagon_vertices(size: float) -> list[tuple[float, float]]:
    """Vertices of the pointy-top regular hexagon inscribed in a ``size`` square, clockwise."""
    centre = radius = size / 2
    return [
        (
            centre + radius * math.cos(math.radians(angle)),
            centre + radius * math.sin(math.radians(angle)),
        )
        for angle in (-90, -30, 30, 90, 150, 210)
    ]


def _check_size(size: int) -> None:
    if not 1 <= size <= MAX_RENDITION_SIZE:
        raise InvalidSize(
            f"expected a hexagon size between 1 and {MAX_RENDITION_SIZE}, found {size}"
        )
