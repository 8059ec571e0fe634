"""Read an image's dimensions and check its structure from the bytes, before any decoding.

Pillow is not trusted for this: its bomb check only warns at 89 MP, a GIF's first frame may
be larger than the declared screen, and whether it accepts truncated data depends on the
process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES``. So each format is walked here, in pure
Python over the bytes, far enough to know:

* the canvas size the decoder will allocate (for GIF: the screen grown to hold frame 0);
* that the data needed for the first image is complete (JPEG reaches EOI, PNG has IEND,
  GIF's first frame has its block terminator, WebP's RIFF chunk is not cut short);
* for JPEG, how many scans the decoder would run (each progressive scan is a pass over the
  whole image, so decode time grows with scans x pixels).

Bytes appended after the image data are allowed here; re-encoding drops them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from .errors import CorruptImage, ImageTooLarge
from .limits import ImageLimits
from .sniff import SourceFormat

__all__ = ["ImageHeader", "check_pixels", "read_header"]

# A marker in JPEG entropy-coded data: 0xFF then a byte that is not a stuffed zero, a restart
# marker or another (fill) 0xFF. No "+" after the first byte: that form is 15x slower.
_JPEG_MARKER_IN_SCAN = rb"\xff[^\x00\xd0-\xd7\xff]"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_SOS = 0xDA
_JPEG_EOI = 0xD9
# GIF: a legitimate 10 MiB frame needs about 41 000 full 255-byte sub-blocks.
_GIF_MAX_SUB_BLOCKS = 100_000


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What the header says about the first image, before EXIF orientation.

    ``width`` x ``height`` is the canvas the decoder allocates; ``frame_width`` x
    ``frame_height`` is the first frame's own extent (equal except for GIF).
    ``scans`` counts JPEG scans (0 for other formats).
    """

    width: int
    height: int
    frame_width: int
    frame_height: int
    scans: int = 0

    @property
    def pixels(self) -> int:
        return max(self.width * self.height, self.frame_width * self.frame_height)


def read_header(data: bytes, fmt: SourceFormat, *, limits: ImageLimits) -> ImageHeader:
    """Walk ``data`` (already sniffed as ``fmt``) and return its :class:`ImageHeader`.

    Raises :class:`CorruptImage` when the structure is broken or truncated, and
    :class:`ImageTooLarge` when the canvas or first frame has more than ``limits.max_pixels``
    pixels or a JPEG has more scans than ``limits`` allow for its size.
    """
    if fmt == "jpeg":
        header = _read_jpeg(data, limits=limits)
    elif fmt == "png":
        header = _read_png(data)
    elif fmt == "gif":
        header = _read_gif(data)
    else:
        header = _read_webp(data)
    if header.width < 1 or header.height < 1:
        raise CorruptImage(
            f"expected a {fmt.upper()} image at least 1x1, found {header.width}x{header.height}"
        )
    check_pixels(header, limits=limits)
    return header


def check_pixels(header: ImageHeader, *, limits: ImageLimits) -> None:
    """Raise :class:`ImageTooLarge` if ``header`` declares more than ``limits.max_pixels``."""
    if header.pixels > limits.max_pixels:
        raise ImageTooLarge(
            f"expected at most {limits.max_pixels} pixels, found "
            f"{header.width}x{header.height} (frame {header.frame_width}x{header.frame_height})"
        )


def _truncated(fmt: str, what: str) -> CorruptImage:
    return CorruptImage(f"expected {what} in the {fmt} data, found the end of the file")


def _read_jpeg(data: bytes, *, limits: ImageLimits) -> ImageHeader:
    size: tuple[int, int] | None = None
    scans = 0
    pos = 2  # after SOI
    while True:
        marker, pos = _next_jpeg_marker(data, pos)
        if marker == _JPEG_EOI:
            break
        if marker in _JPEG_STANDALONE:
            continue
        if pos + 2 > len(data):
            raise _truncated("JPEG", "a segment length")
        (length,) = struct.unpack_from(">H", data, pos)
        end = pos + length
        if length < 2:
            raise CorruptImage(
                f"expected a JPEG segment length >= 2 at offset {pos}, found {length}"
            )
        if end > len(data):
            raise _truncated("JPEG", f"a segment of {length} bytes at offset {pos}")
        if marker in _JPEG_SOF and size is None:
            size = _jpeg_frame_size(data, pos, length)
            check_pixels(ImageHeader(*size, *size), limits=limits)  # before walking the scans
        elif marker == _JPEG_SOS:
            if size is None:
                raise CorruptImage("expected a JPEG frame header (SOF) before the first scan")
            scans += 1
            _check_scans(scans, size, limits)
            end = _skip_entropy_coded(data, end)
        pos = end
    if size is None or scans == 0:
        raise CorruptImage("expected a JPEG frame header and at least one scan before EOI")
    width, height = size
    return ImageHeader(width, height, width, height, scans)


def _check_scans(scans: int, size: tuple[int, int], limits: ImageLimits) -> None:
    allowed = limits.max_scans_for(size[0] * size[1])
    if scans > allowed:
        raise ImageTooLarge(
            f"expected at most {allowed} JPEG scans for {size[0]}x{size[1]} pixels, found more "
            "(a progressive JPEG is decoded once per scan)"
        )


def _next_jpeg_marker(data: bytes, pos: int) -> tuple[int, int]:
    """Return (marker byte, offset after it) for the marker at ``pos``."""
    if pos >= len(data):
        raise _truncated("JPEG", "a marker or EOI")
    if data[pos] != 0xFF:
        raise CorruptImage(f"expected a JPEG marker at offset {pos}, found byte {data[pos]:#04x}")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise _truncated("JPEG", "a marker or EOI")
    return data[pos], pos + 1


def _jpeg_frame_size(data: bytes, pos: int, length: int) -> tuple[int, int]:
    if length < 8:
        raise CorruptImage(f"expected a JPEG frame header of at least 8 bytes, found {length}")
    height, width = struct.unpack_from(">HH", data, pos + 3)
    if height == 0:
        raise CorruptImage("expected a JPEG height in the frame header, found 0 (DNL unsupported)")
    return width, height


def _skip_entropy_coded(data: bytes, pos: int) -> int:
    match = re.compile(_JPEG_MARKER_IN_SCAN).search(data, pos)
    if match is None:
        raise _truncated("JPEG", "the end of a scan")
    return match.start()


def _read_png(data: bytes) -> ImageHeader:
    if len(data) < 33:
        raise _truncated("PNG", "an IHDR chunk")
    length, kind, width, height = struct.unpack_from(">I4sII", data, 8)
    if kind != b"IHDR" or length != 13:
        raise CorruptImage(f"expected the PNG IHDR chunk first, found {kind!r} of {length} bytes")
    if data.find(b"\x00\x00\x00\x00IEND", 33) < 0:
        raise _truncated("PNG", "an IEND chunk")
    return ImageHeader(width, height, width, height)


def _read_gif(data: bytes) -> ImageHeader:
    if len(data) < 13:
        raise _truncated("GIF", "a logical screen descriptor")
    screen_w, screen_h, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + _gif_color_table_size(flags)
    while True:
        if pos >= len(data):
            raise _truncated("GIF", "an image")
        block = data[pos]
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_gif_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor
            return _read_gif_frame(data, pos, screen_w, screen_h)
        else:
            raise CorruptImage(f"expected a GIF image or extension, found byte {block:#04x}")


def _read_gif_frame(data: bytes, pos: int, screen_w: int, screen_h: int) -> ImageHeader:
    if pos + 10 > len(data):
        raise _truncated("GIF", "an image descriptor")
    left, top, frame_w, frame_h, flags = struct.unpack_from("<HHHHB", data, pos + 1)
    pos += 10 + _gif_color_table_size(flags) + 1  # descriptor, local table, LZW code size
    _skip_gif_sub_blocks(data, pos)
    width = max(screen_w, left + frame_w)
    height = max(screen_h, top + frame_h)
    return ImageHeader(width, height, frame_w, frame_h)


def _gif_color_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_gif_sub_blocks(data: bytes, pos: int) -> int:
    """Return the offset after the terminator of the sub-blocks starting at ``pos``."""
    for _ in range(_GIF_MAX_SUB_BLOCKS):
        if pos >= len(data):
            raise _truncated("GIF", "a data sub-block")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise CorruptImage(f"expected at most {_GIF_MAX_SUB_BLOCKS} GIF data sub-blocks, found more")


def _read_webp(data: bytes) -> ImageHeader:
    if len(data) < 30:
        raise _truncated("WebP", "a RIFF header and first chunk")
    (riff_size,) = struct.unpack_from("<I", data, 4)
    if riff_size + 8 > len(data):
        raise _truncated("WebP", f"a RIFF chunk of {riff_size} bytes")
    kind = data[12:16]
    if kind == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise CorruptImage("expected the VP8 start code in a lossy WebP, found other bytes")
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", data, 26))
    elif kind == b"VP8L":
        if data[20] != 0x2F:
            raise CorruptImage("expected the VP8L signature in a lossless WebP, found other bytes")
        (bits,) = struct.unpack_from("<I", data, 21)
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif kind == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        raise CorruptImage(f"expected a VP8, VP8L or VP8X chunk in the WebP, found {kind!r}")
    return ImageHeader(width, height, width, height)
