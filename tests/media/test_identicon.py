"""Default avatars derived from a seed."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps

from hexavatar.media import InvalidSize, UnsupportedFormat, identicon


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_same_seed_same_bytes() -> None:
    assert identicon("alice@example.org", size=120) == identicon("alice@example.org", size=120)
    assert identicon("alice", size=64, fmt="webp") == identicon("alice", size=64, fmt="webp")


def test_different_seeds_differ() -> None:
    seeds = ["alice", "bob", "carol", "dave", "alice ", "Alice", ""]
    pictures = {identicon(seed, size=60) for seed in seeds}
    assert len(pictures) == len(seeds)


@pytest.mark.parametrize("fmt", ["png", "webp"])
@pytest.mark.parametrize("size", [1, 5, 64, 120, 512])
def test_size_and_format(size: int, fmt: str) -> None:
    image = decode(identicon("seed", size=size, fmt=fmt))  # type: ignore[arg-type]
    assert image.format == fmt.upper()
    assert image.size == (size, size)


@settings(max_examples=30, deadline=None)
@given(st.text(max_size=40))
def test_grid_is_mirrored_with_a_background_margin(seed: str) -> None:
    image = decode(identicon(seed, size=120)).convert("RGB")  # 120 = 6 cells of 20 px
    assert ImageChops.difference(image, ImageOps.mirror(image)).getbbox() is None
    background = image.getpixel((0, 0))
    assert all(image.getpixel((x, y)) == background for x in range(120) for y in (0, 9, 110, 119))
    colours = image.getcolors()
    assert colours is not None and 1 <= len(colours) <= 2


def test_is_not_blank_for_common_seeds() -> None:
    for seed in ("alice", "bob", "carol"):
        colours = decode(identicon(seed, size=60)).convert("RGB").getcolors()
        assert colours is not None and len(colours) == 2


def test_bad_arguments() -> None:
    with pytest.raises(InvalidSize):
        identicon("x", size=0)
    with pytest.raises(InvalidSize):
        identicon("x", size=100_000)
    with pytest.raises(UnsupportedFormat):
        identicon("x", size=64, fmt="gif")  # type: ignore[arg-type]
