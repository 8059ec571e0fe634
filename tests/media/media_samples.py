"""Test images for tests/media, generated with Pillow (and by hand where Pillow would refuse)."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

RED = (220, 30, 30)
GREEN = (30, 200, 30)
BLUE = (30, 30, 220)
YELLOW = (230, 220, 20)


def encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def quadrants(width: int, height: int) -> Image.Image:
    """Top-left red, top-right green, bottom-left blue, bottom-right yellow."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image


def photo(width: int, height: int, *, seed_sigma: float = 24.0) -> Image.Image:
    """A gradient with noise, roughly as hard to compress as a photograph."""
    ramp = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), seed_sigma)
    return Image.merge("RGB", (ramp, noise, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def jpeg(image: Image.Image, **params: Any) -> bytes:
    return encode(image, "JPEG", **{"quality": 95, **params})


def close(actual: Any, expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A valid greyscale PNG of zeros: tiny on disk, ``width * height`` bytes decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR says ``width`` x ``height`` but whose pixel data is a stub."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF header is patched to say ``width`` x ``height``."""
    data = bytearray(jpeg(Image.new("RGB", (16, 16), RED)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def gif(frames: list[Image.Image], **params: Any) -> bytes:
    first, *rest = frames
    return encode(first, "GIF", save_all=bool(rest), append_images=rest, **params)


def gif_patch_sizes(
    data: bytes, *, screen: tuple[int, int], frame: tuple[int, int, int, int]
) -> bytes:
    """Rewrite a single-frame GIF's screen size and first image descriptor (x, y, w, h)."""
    out = bytearray(data)
    struct.pack_into("<HH", out, 6, *screen)
    flags = out[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while out[pos] == 0x21:  # skip extensions
        pos += 2
        while out[pos]:
            pos += out[pos] + 1
        pos += 1
    assert out[pos] == 0x2C
    struct.pack_into("<HHHH", out, pos + 1, *frame)
    return bytes(out)


def many_scans_jpeg(extra_scans: int) -> bytes:
    """A progressive JPEG with its last scan repeated ``extra_scans`` more times."""
    data = jpeg(photo(64, 64), progressive=True)
    last_sos = data.rindex(b"\xff\xda")
    eoi = data.rindex(b"\xff\xd9")
    return data[:eoi] + data[last_sos:eoi] * extra_scans + data[eoi:]


def swapped_primaries_icc() -> bytes:
    """An RGB ICC profile like sRGB but with the red and blue primaries swapped."""
    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[84:100] = bytes(16)  # profile ID (MD5) no longer valid: zero means "not computed"
    (count,) = struct.unpack_from(">I", profile, 128)
    entries = {}
    for index in range(count):
        at = 132 + 12 * index
        entries[bytes(profile[at : at + 4])] = at
    red, blue = entries[b"rXYZ"], entries[b"bXYZ"]
    profile[red + 4 : red + 12], profile[blue + 4 : blue + 12] = (
        profile[blue + 4 : blue + 12],
        profile[red + 4 : red + 12],
    )
    return bytes(profile)
