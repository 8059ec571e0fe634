"""What the pipeline refuses before decoding: size, pixel count, scan count, bad structure."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from media_samples import (
    RED,
    encode,
    gif,
    gif_patch_sizes,
    jpeg,
    jpeg_with_size,
    many_scans_jpeg,
    photo,
    png_bomb,
    png_header_only,
    quadrants,
)
from PIL import Image, ImageFile

from hexavatar.media import (
    CorruptImage,
    EmptyFile,
    FileTooLarge,
    ImageLimits,
    ImageTooLarge,
    MediaError,
    process_image,
)


class DecodeReached(BaseException):
    """Raised by the patched Pillow loader: a BaseException so no handler swallows it."""


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail loudly if Pillow is asked to decode pixels from a file."""

    def refuse(self: Image.Image) -> None:
        raise DecodeReached(f"{self.format} {self.size} decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    yield


def test_empty_file() -> None:
    with pytest.raises(EmptyFile) as caught:
        process_image(b"")
    assert caught.value.code == "empty_file"


def test_eleven_mib_is_refused_before_anything_else(no_decoding: None) -> None:
    data = b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024)
    with pytest.raises(FileTooLarge, match=str(10 * 1024 * 1024)) as caught:
        process_image(data)
    assert caught.value.code == "file_too_large"


def test_byte_limit_is_inclusive() -> None:
    data = jpeg(quadrants(32, 32))
    assert process_image(data, limits=ImageLimits(max_bytes=len(data))).sha256
    with pytest.raises(FileTooLarge):
        process_image(data, limits=ImageLimits(max_bytes=len(data) - 1))


@pytest.mark.slow
def test_png_bomb_is_refused_from_the_header(no_decoding: None) -> None:
    data = png_bomb(10_000, 10_000)  # 100 MP of zeros
    assert len(data) < 200_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="10000x10000") as caught:
        process_image(data)
    assert caught.value.code == "image_too_large"
    # Not a timing target: a decode of 100 MP could not finish in this much time.
    assert time.perf_counter() - started < 5


def gif_with_size(width: int, height: int) -> bytes:
    small = gif([Image.new("P", (8, 8), 1)])
    return gif_patch_sizes(small, screen=(width, height), frame=(0, 0, width, height))


SIZED: dict[str, Callable[[int, int], bytes]] = {
    "png": png_header_only,
    "jpeg": jpeg_with_size,
    "gif": gif_with_size,
}


@pytest.mark.parametrize("fmt", SIZED)
@pytest.mark.parametrize("size", [(8000, 5000), (5000, 8000), (40_000, 1000), (1, 40_000)])
def test_forty_megapixels_passes_the_header_checks(
    fmt: str, size: tuple[int, int], no_decoding: None
) -> None:
    if max(size) > 65_535 and fmt != "png":
        pytest.skip("JPEG and GIF store each side in 16 bits")
    with pytest.raises(DecodeReached):  # every header check passed: decoding starts
        process_image(SIZED[fmt](*size))


@pytest.mark.parametrize("fmt", SIZED)
@pytest.mark.parametrize("size", [(8001, 5000), (5000, 8001), (65_535, 65_535)])
def test_one_row_more_is_too_large(fmt: str, size: tuple[int, int], no_decoding: None) -> None:
    with pytest.raises(ImageTooLarge, match="at most 40000000 pixels"):
        process_image(SIZED[fmt](*size))


def test_pixel_limit_applies_to_a_real_decode() -> None:
    data = encode(quadrants(100, 100), "PNG")
    assert process_image(data, limits=ImageLimits(max_pixels=100 * 100)).width == 100
    with pytest.raises(ImageTooLarge):
        process_image(data, limits=ImageLimits(max_pixels=100 * 100 - 1))


def test_webp_canvas_is_checked_from_the_header(no_decoding: None) -> None:
    data = encode(quadrants(200, 100), "WEBP")
    with pytest.raises(ImageTooLarge, match="200x100"):
        process_image(data, limits=ImageLimits(max_pixels=200 * 100 - 1))


def test_gif_frame_larger_than_the_screen_is_refused(no_decoding: None) -> None:
    small = gif([Image.new("P", (8, 8), 1)])
    bomb = gif_patch_sizes(small, screen=(10, 10), frame=(0, 0, 8000, 6000))
    with pytest.raises(ImageTooLarge, match="frame 8000x6000"):
        process_image(bomb)


def test_gif_frame_placed_far_outside_the_screen_is_refused(no_decoding: None) -> None:
    small = gif([Image.new("P", (8, 8), 1)])
    bomb = gif_patch_sizes(small, screen=(10, 10), frame=(7000, 7000, 8, 8))
    with pytest.raises(ImageTooLarge, match="7008x7008"):
        process_image(bomb)


def test_gif_frame_larger_than_the_screen_within_limits_is_decoded() -> None:
    source = gif([Image.new("RGB", (20, 20), RED)])
    data = gif_patch_sizes(source, screen=(10, 10), frame=(0, 0, 20, 20))
    result = process_image(data)
    assert (result.width, result.height) == (20, 20)


def test_absurd_jpeg_scan_count_is_refused_without_decoding(no_decoding: None) -> None:
    data = many_scans_jpeg(5_000)
    with pytest.raises(ImageTooLarge, match="at most 100 JPEG scans for 64x64"):
        process_image(data)


def test_jpeg_scan_budget_shrinks_with_the_pixel_count(no_decoding: None) -> None:
    data = many_scans_jpeg(10)
    scans = data.count(b"\xff\xda")
    assert scans > 10
    budget = ImageLimits(max_jpeg_scan_pixels=64 * 64 * scans)
    with pytest.raises(DecodeReached):  # within budget: goes on to decode
        process_image(data, limits=budget)
    tight = ImageLimits(max_jpeg_scan_pixels=64 * 64 * scans - 1)
    with pytest.raises(ImageTooLarge, match=f"at most {scans - 1} JPEG scans"):
        process_image(data, limits=tight)


def test_default_scan_budget() -> None:
    limits = ImageLimits()
    assert limits.max_scans_for(4000 * 3000) == 83
    assert limits.max_scans_for(8000 * 5000) == 25
    assert limits.max_scans_for(64 * 64) == 100


def test_ordinary_progressive_jpeg_is_accepted() -> None:
    data = jpeg(photo(300, 200), progressive=True)
    assert data.count(b"\xff\xda") > 1
    assert process_image(data).source_format == "jpeg"
    with pytest.raises(ImageTooLarge):
        process_image(data, limits=ImageLimits(max_jpeg_scans=1))


TRUNCATABLE = {
    "jpeg": lambda: jpeg(photo(300, 200)),
    "progressive-jpeg": lambda: jpeg(photo(300, 200), progressive=True),
    "png": lambda: encode(photo(300, 200), "PNG"),
    "gif": lambda: gif([photo(300, 200).convert("P")]),
    "webp": lambda: encode(photo(300, 200), "WEBP"),
}


@pytest.mark.parametrize("load_truncated", [False, True])
@pytest.mark.parametrize("fraction", [0.5, 0.9])
@pytest.mark.parametrize("kind", TRUNCATABLE)
def test_truncated_images_are_corrupt(
    kind: str, fraction: float, load_truncated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even if some other code switched Pillow's global "load truncated images" on.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", load_truncated)
    data = TRUNCATABLE[kind]()
    process_image(data)  # the whole file is fine
    with pytest.raises(CorruptImage) as caught:
        process_image(data[: int(len(data) * fraction)])
    assert caught.value.code == "corrupt_image"


def test_pillow_global_state_is_left_alone() -> None:
    before = (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)
    process_image(jpeg(quadrants(40, 30)))
    assert before == (ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # JPEG cut inside APP0
        b"\xff\xd8\xff\xd9",  # SOI then EOI, no frame
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # no IHDR
        b"GIF89a\x0a\x00\x0a\x00\x00\x00\x00\x3b",  # trailer, no image
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 30,  # no VP8 start code
    ],
)
def test_broken_structures_are_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        process_image(data)


def test_every_refusal_is_a_media_error() -> None:
    for data in (b"", b"hello", png_header_only(50_000, 50_000), b"\xff\xd8\xff"):
        with pytest.raises(MediaError):
            process_image(data)
