"""Default avatars: a Gravatar ``d=identicon``-like 5x5 mirrored grid, derived from a seed.

The SHA-256 of the seed (UTF-8) decides everything: bytes 0-14 switch the 15 cells of the left
three columns (mirrored to the right two), bytes 28-31 pick the hue. Same seed, same bytes out
(for a given Pillow build); different seeds give different pictures.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from typing import Literal

from PIL import Image, ImageDraw

from .errors import InvalidSize, UnsupportedFormat
from .renditions import MAX_RENDITION_SIZE, encode

__all__ = ["identicon", "identicon_cells"]

_GRID = 5
_BACKGROUND = (240, 240, 240)


def identicon(seed: str, *, size: int, fmt: Literal["png", "webp"] = "png") -> bytes:
    """Return a ``size`` x ``size`` identicon for ``seed``, encoded as PNG or lossless WebP."""
    if not 1 <= size <= MAX_RENDITION_SIZE:
        raise InvalidSize(
            f"expected an identicon size between 1 and {MAX_RENDITION_SIZE}, found {size}"
        )
    if fmt not in ("png", "webp"):
        raise UnsupportedFormat(f"expected output format 'png' or 'webp', found {fmt!r}")
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    image = _draw(identicon_cells(digest), _colour(digest), size)
    if fmt == "webp":
        return _lossless_webp(image)
    return encode(image, "png")


def identicon_cells(digest: bytes) -> tuple[tuple[bool, ...], ...]:
    """Return the 5x5 grid (rows of columns) that ``digest`` switches on; mirrored left-right."""
    rows = []
    for row in range(_GRID):
        left = [digest[row * 3 + col] % 2 == 0 for col in range(3)]
        rows.append((*left, left[1], left[0]))
    return tuple(rows)


def _colour(digest: bytes) -> tuple[int, int, int]:
    hue = int.from_bytes(digest[28:32], "big") / 2**32
    red, green, blue = colorsys.hls_to_rgb(hue, 0.55, 0.6)
    return round(red * 255), round(green * 255), round(blue * 255)


def _draw(
    cells: tuple[tuple[bool, ...], ...], colour: tuple[int, int, int], size: int
) -> Image.Image:
    """Draw the grid with half a cell of margin on each side (6 cells across)."""
    image = Image.new("RGB", (size, size), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    cell = size / (_GRID + 1)
    for row, line in enumerate(cells):
        for col, on in enumerate(line):
            if on:
                x0, y0 = round(cell * (col + 0.5)), round(cell * (row + 0.5))
                x1, y1 = round(cell * (col + 1.5)) - 1, round(cell * (row + 1.5)) - 1
                if x1 >= x0 and y1 >= y0:
                    draw.rectangle((x0, y0, x1, y1), fill=colour)
    return image


def _lossless_webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True, quality=100, method=4, exif=b"", xmp=b"")
    return out.getvalue()
