"""NFT avatars in a pointy-top hexagon with an antialiased edge."""

from __future__ import annotations

import io
import math

import pytest
from media_samples import RED, encode, jpeg, quadrants
from PIL import Image

from hexavatar.media import InvalidSize, UnsupportedFormat, hexagon_alpha, hexagon_mask


def masked(size: int, source: bytes | None = None) -> Image.Image:
    data = hexagon_mask(source or jpeg(Image.new("RGB", (300, 200), RED)), size=size)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()
    return image


@pytest.mark.parametrize("size", [64, 128, 256])
def test_corners_transparent_centre_opaque(size: int) -> None:
    image = masked(size)
    assert image.size == (size, size)
    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    last = size - 1
    for corner in ((0, 0), (last, 0), (0, last), (last, last)):
        assert alpha.getpixel(corner) == 0
    assert alpha.getpixel((size // 2, size // 2)) == 255
    assert image.getpixel((size // 2, size // 2))[:3] == RED  # type: ignore[index]


def test_pointy_top_geometry() -> None:
    size = 200
    alpha = masked(size).getchannel("A")
    half_width = size * math.sqrt(3) / 4  # flat sides are sqrt(3)/2 * size apart
    # Left and right of the flat sides: transparent; just inside them: opaque.
    assert alpha.getpixel((round(size / 2 - half_width) - 3, size // 2)) == 0
    assert alpha.getpixel((round(size / 2 + half_width) + 3, size // 2)) == 0
    assert alpha.getpixel((round(size / 2 - half_width) + 3, size // 2)) == 255
    # The top vertex touches the top edge: opaque a few pixels below it, on the axis.
    assert alpha.getpixel((size // 2, 4)) == 255
    assert alpha.getpixel((size // 4, 4)) == 0


def test_edge_is_antialiased() -> None:
    histogram = hexagon_alpha(128).histogram()
    partial = sum(histogram[1:255])
    assert partial > 50  # grey levels along the slanted edges
    assert histogram[0] > 0 and histogram[255] > 0


def test_existing_transparency_is_kept() -> None:
    source = Image.new("RGBA", (100, 100), (*RED, 255))
    source.paste((0, 0, 0, 0), (40, 40, 60, 60))
    alpha = masked(100, encode(source, "PNG")).getchannel("A")
    assert alpha.getpixel((50, 50)) == 0
    assert alpha.getpixel((50, 30)) == 255


def test_non_square_input_is_centre_cropped() -> None:
    image = masked(100, jpeg(quadrants(300, 100)))
    # quadrants(300, 100) cropped to x 100..200: left half red, right half green.
    assert image.getpixel((30, 40))[0] > 150  # type: ignore[index]
    assert image.getpixel((70, 40))[1] > 150  # type: ignore[index]


def test_untrusted_input_is_checked_like_an_upload() -> None:
    with pytest.raises(UnsupportedFormat):
        hexagon_mask(b"<svg/>", size=64)
    with pytest.raises(InvalidSize):
        hexagon_mask(jpeg(quadrants(8, 8)), size=0)
