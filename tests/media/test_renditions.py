"""Accepted formats, renditions, EXIF orientation, modes and draft-mode decoding."""

from __future__ import annotations

import hashlib
import io

import pytest
from media_samples import (
    BLUE,
    GREEN,
    RED,
    YELLOW,
    close,
    encode,
    gif,
    jpeg,
    photo,
    quadrants,
    swapped_primaries_icc,
)
from PIL import Image, ImageCms

from hexavatar.media import (
    RENDITION_SIZES,
    InvalidSize,
    ProcessedImage,
    decode_image,
    process_image,
)
from hexavatar.media import ImageLimits as Limits


def open_rendition(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def corners(image: Image.Image) -> list[tuple[int, ...]]:
    """Pixels at 10 % in from each corner: top-left, top-right, bottom-left, bottom-right."""
    w, h = image.size
    points = [(w // 10, h // 10), (w - w // 10, h // 10), (w // 10, h - h // 10)]
    points.append((w - w // 10, h - h // 10))
    return [image.convert("RGB").getpixel(p) for p in points]  # type: ignore[misc]


SOURCES = {
    "jpeg": lambda: jpeg(quadrants(300, 200)),
    "png": lambda: encode(quadrants(300, 200), "PNG"),
    "webp": lambda: encode(quadrants(300, 200), "WEBP", lossless=True),
    "gif": lambda: gif([quadrants(300, 200).convert("P")]),
}


@pytest.mark.parametrize("fmt", SOURCES)
def test_every_format_gives_all_eight_renditions(fmt: str) -> None:
    data = SOURCES[fmt]()
    result = process_image(data)
    assert result.source_format == fmt
    assert (result.width, result.height) == (300, 200)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    made = [(r.size, r.format) for r in result.renditions]
    assert made == [(s, f) for s in RENDITION_SIZES for f in ("webp", "png")]
    for rendition in result.renditions:
        image = open_rendition(rendition.data)
        assert image.format == rendition.format.upper()
        assert image.size == (rendition.size, rendition.size)
        assert rendition.content_type == f"image/{rendition.format}"
        # The centre crop of 300x200 keeps x in 50..250: all four quadrant colours survive.
        assert all(
            close(px, colour, 60)
            for px, colour in zip(corners(image), (RED, GREEN, BLUE, YELLOW), strict=True)
        ), (rendition.size, rendition.format, corners(image))


def test_rendition_lookup() -> None:
    result = process_image(SOURCES["png"]())
    assert result.rendition(128, "png").size == 128
    with pytest.raises(KeyError):
        result.rendition(100, "png")


@pytest.mark.parametrize("fmt", ["gif", "webp", "png"])
def test_animations_give_their_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    if fmt == "gif":
        data = gif(frames, duration=100, loop=0)
    else:
        data = encode(frames[0], fmt.upper(), save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    result = process_image(data)
    centre = open_rendition(result.rendition(64, "png").data).convert("RGB").getpixel((32, 32))
    assert close(centre, RED, 10)


# Orientation tag -> how the upright picture was rotated when stored (Pillow's transpose
# names are counter-clockwise): 6 = "rotate 90 CW to display", so it was stored 90 CCW.
STORED_AS = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize(
    ("fmt", "size"),
    [("JPEG", (300, 200)), ("JPEG", (2400, 1600)), ("PNG", (2400, 1600)), ("WEBP", (300, 200))],
)
@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_exif_orientation_is_applied(orientation: int, fmt: str, size: tuple[int, int]) -> None:
    upright = quadrants(*size)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = upright.transpose(STORED_AS[orientation])
    data = encode(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == orientation
    result = process_image(data)
    assert (result.width, result.height) == size
    image = open_rendition(result.rendition(256, "png").data)
    got = corners(image)
    assert all(close(px, c) for px, c in zip(got, (RED, GREEN, BLUE, YELLOW), strict=True)), got


def test_draft_mode_decodes_a_large_jpeg_at_reduced_scale() -> None:
    data = jpeg(photo(4000, 3000), quality=85)
    decoded = decode_image(data, limits=Limits(), min_side=512)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.image.size == (1000, 750)  # 1/4 scale: 1/8 would give a short side < 512
    assert process_image(data).width == 4000


@pytest.mark.parametrize(
    ("size", "decoded_size"),
    [
        ((1023, 1100), (1023, 1100)),
        ((1030, 1100), (515, 550)),
        ((2100, 1100), (1050, 550)),
        ((8192, 4100), (1024, 513)),
    ],
)
def test_draft_keeps_the_short_side_at_least_512(
    size: tuple[int, int], decoded_size: tuple[int, int]
) -> None:
    data = jpeg(Image.new("RGB", size, GREEN))
    assert decode_image(data, limits=Limits(), min_side=512).image.size == decoded_size


@pytest.mark.parametrize(
    ("fmt", "mode", "size", "decoded_size"),
    [
        ("PNG", "RGB", (2100, 1100), (1050, 550)),
        ("PNG", "RGB", (1100, 1023), (1100, 1023)),
        ("WEBP", "RGB", (1600, 1200), (800, 600)),
        ("GIF", "P", (1600, 1100), (800, 550)),
        ("PNG", "I;16", (1600, 1100), (800, 550)),
    ],
)
def test_other_formats_are_box_reduced_after_decoding(
    fmt: str, mode: str, size: tuple[int, int], decoded_size: tuple[int, int]
) -> None:
    source = quadrants(*size)
    source = source.convert("L").convert("I;16") if mode == "I;16" else source.convert(mode)
    decoded = decode_image(encode(source, fmt), limits=Limits(), min_side=512)
    assert (decoded.width, decoded.height) == size
    assert decoded.image.size == decoded_size


def test_palette_images_are_converted_before_reduction() -> None:
    # Averaging palette indices would give colours from elsewhere in the palette.
    data = gif([quadrants(1600, 1100).convert("P")])
    image = open_rendition(process_image(data).rendition(512, "png").data)
    got = corners(image)
    assert all(close(px, c) for px, c in zip(got, (RED, GREEN, BLUE, YELLOW), strict=True)), got


def test_small_images_are_upscaled() -> None:
    result = process_image(encode(quadrants(20, 10), "PNG"))
    assert open_rendition(result.rendition(512, "webp").data).size == (512, 512)


def alpha_of(result: ProcessedImage, fmt: str) -> Image.Image:
    image = open_rendition(result.rendition(64, fmt).data)  # type: ignore[arg-type]
    assert image.mode == "RGBA", image.mode
    return image.getchannel("A")


def half_transparent(mode: str) -> Image.Image:
    image = Image.new("RGBA", (64, 64), (*RED, 255))
    image.paste((0, 0, 0, 0), (0, 0, 32, 64))
    return image.convert(mode)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_alpha_is_kept(mode: str, fmt: str) -> None:
    source = half_transparent(mode if mode != "PA" else "RGBA")
    if mode == "PA":
        source = source.convert("P", palette=Image.Palette.ADAPTIVE)
        source.info["transparency"] = source.getpixel((0, 0))
    if fmt == "WEBP" and mode in ("LA", "PA"):
        source = source.convert("RGBA")
    result = process_image(encode(source, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
    for out in ("png", "webp"):
        alpha = alpha_of(result, out)
        assert alpha.getpixel((4, 32)) == 0
        assert alpha.getpixel((60, 32)) == 255


def test_transparent_gif_keeps_alpha() -> None:
    source = Image.new("P", (64, 64), 1)
    source.putpalette([0, 0, 0, *RED] + [0] * 762)
    source.paste(0, (0, 0, 32, 64))
    result = process_image(gif([source], transparency=0))
    assert alpha_of(result, "png").getpixel((4, 32)) == 0


def test_opaque_alpha_is_dropped() -> None:
    result = process_image(encode(Image.new("RGBA", (64, 64), (*BLUE, 255)), "PNG"))
    assert open_rendition(result.rendition(64, "png").data).mode == "RGB"


def test_cmyk_jpeg_becomes_rgb() -> None:
    result = process_image(jpeg(quadrants(120, 80).convert("CMYK")))
    image = open_rendition(result.rendition(128, "png").data)
    assert image.mode == "RGB"
    assert close(corners(image)[0], RED, 50)


def test_sixteen_bit_grey_png_is_scaled_not_clipped() -> None:
    source = Image.new("I;16", (64, 64), 40_000)  # 40000/65535 of white
    result = process_image(encode(source, "PNG"))
    image = open_rendition(result.rendition(64, "png").data).convert("RGB")
    assert close(image.getpixel((32, 32)), (156, 156, 156), 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["1", "L", "P"])
def test_other_modes_become_rgb(mode: str) -> None:
    result = process_image(encode(quadrants(64, 64).convert(mode), "PNG"))
    assert open_rendition(result.rendition(64, "png").data).mode == "RGB"


def test_appended_bytes_do_not_matter_to_the_picture() -> None:
    data = encode(quadrants(64, 64), "PNG")
    plain = process_image(data)
    padded = process_image(data + b"trailing garbage" * 100)
    assert plain.renditions == padded.renditions
    assert plain.sha256 != padded.sha256


def test_custom_sizes_and_their_bounds() -> None:
    result = process_image(encode(quadrants(64, 64), "PNG"), sizes=(32, 16))
    assert [(r.size, r.format) for r in result.renditions] == [
        (16, "webp"),
        (16, "png"),
        (32, "webp"),
        (32, "png"),
    ]
    for sizes in ((), (0, 64), (4096,)):
        with pytest.raises(InvalidSize):
            process_image(encode(quadrants(8, 8), "PNG"), sizes=sizes)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_srgb_profile_leaves_colours_and_alpha_alone(mode: str) -> None:
    source = half_transparent("RGBA")
    if mode == "RGB":
        source = quadrants(64, 64)
    result = process_image(encode(source, "PNG", icc_profile=srgb_icc()))
    image = open_rendition(result.rendition(64, "png").data)
    assert image.mode == mode
    if mode == "RGBA":
        assert image.getchannel("A").getpixel((4, 32)) == 0
        assert close(image.getpixel((60, 32)), (*RED, 255), 3)  # type: ignore[arg-type]
    else:
        assert all(
            close(px, c, 3)
            for px, c in zip(corners(image), (RED, GREEN, BLUE, YELLOW), strict=True)
        )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_colours_are_converted_from_the_embedded_profile_to_srgb(fmt: str) -> None:
    # Pixels stored as pure "red" in a profile whose red primary is sRGB's blue are blue.
    source = Image.new("RGB", (64, 64), (255, 0, 0))
    data = encode(source, fmt, icc_profile=swapped_primaries_icc())
    result = process_image(data)
    for rendition in result.renditions:
        image = open_rendition(rendition.data).convert("RGB")
        assert close(image.getpixel((32, 32)), (0, 0, 255), 30), rendition  # type: ignore[arg-type]
        assert b"acsp" not in rendition.data


def test_garbage_icc_profile_is_ignored() -> None:
    result = process_image(jpeg(quadrants(64, 64), icc_profile=b"not a profile" * 20))
    image = open_rendition(result.rendition(64, "png").data)
    assert "icc_profile" not in image.info
    assert close(corners(image)[0], RED)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00" + b"\xff" * 40,
        b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x00" * 30,
    ],
)
def test_broken_exif_does_not_refuse_the_picture(exif: bytes) -> None:
    result = process_image(jpeg(quadrants(60, 40), exif=exif))
    assert (result.width, result.height) == (60, 40)
    assert all(b"Exif" not in r.data for r in result.renditions)
