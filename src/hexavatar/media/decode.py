"""Turn untrusted bytes into a clean, upright RGB or RGBA image, or refuse them.

Order of checks (each cheaper than the next, none decodes pixels before the header passed):

1. byte count (``ImageLimits.max_bytes``) and emptiness;
2. format from the magic bytes (:func:`~hexavatar.media.sniff.sniff_format`);
3. structure, dimensions and JPEG scan count from the bytes (:mod:`.header`), against
   ``ImageLimits.max_pixels``, ``max_jpeg_scans`` and ``max_jpeg_scan_pixels``;
4. Pillow opens the header (restricted to the sniffed format) and must agree on the size;
5. decode of the first frame only; a JPEG is decoded at a reduced DCT scale (draft mode:
   1/2, 1/4 or 1/8), the largest reduction that keeps the short side at least ``min_side``
   pixels. Other formats are decoded at full size and at once box-reduced by the largest
   integer factor with the same property, so the full-size pixels are never copied,
   transposed or converted (palette, bilevel and 16-bit images are converted first);
6. EXIF orientation applied, colours converted to sRGB when an ICC profile is embedded,
   mode normalised to RGB (or RGBA when the alpha channel is not fully opaque), and every
   metadata entry dropped from ``Image.info``.

The reductions keep the picture's aspect ratio, so the centre square cut later is the same
square (reduction and orientation both commute with a centred crop).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from .errors import CorruptImage, EmptyFile, FileTooLarge, ImageTooLarge, UnsupportedFormat
from .errors import quote_head as _quote_head
from .header import ImageHeader, read_header
from .limits import ImageLimits
from .sniff import SourceFormat, sniff_format

__all__ = ["DecodedImage", "decode_image"]

_PIL_FORMATS: dict[SourceFormat, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# Modes whose pixel values can be averaged by Image.reduce (not palette indices or "1").
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr"})
_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """A decoded first frame, upright, in mode RGB or RGBA, sRGB, with an empty ``info``.

    ``width`` x ``height`` is the full source size after orientation; ``image`` may be
    smaller (draft mode for JPEG, box reduction for the others), never smaller than
    ``min_side`` on its short side unless the source itself is.
    """

    image: Image.Image
    source_format: SourceFormat
    width: int
    height: int


def decode_image(data: bytes, *, limits: ImageLimits, min_side: int) -> DecodedImage:
    """Validate ``data`` and decode its first frame; see the module docstring for the steps."""
    fmt = _check_bytes(data, limits=limits)
    header = read_header(data, fmt, limits=limits)
    image, orientation = _load(data, fmt, header, min_side=min_side)
    width, height = header.width, header.height
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    return DecodedImage(image, fmt, width, height)


def _check_bytes(data: bytes, *, limits: ImageLimits) -> SourceFormat:
    """Refuse empty, oversized or unrecognised input; return the sniffed format."""
    if not data:
        raise EmptyFile("expected image bytes, found an empty file")
    if len(data) > limits.max_bytes:
        raise FileTooLarge(f"expected at most {limits.max_bytes} bytes, found {len(data)}")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedFormat(
            f"expected a JPEG, PNG, WebP or GIF file, found bytes starting {_quote_head(data)}"
        )
    return fmt


def _load(
    data: bytes, fmt: SourceFormat, header: ImageHeader, *, min_side: int
) -> tuple[Image.Image, int]:
    """Decode the first frame; return the normalised image and its EXIF orientation."""
    try:
        with Image.open(io.BytesIO(data), formats=(_PIL_FORMATS[fmt],)) as opened:
            if opened.size != (header.width, header.height):
                raise CorruptImage(
                    f"expected the decoder to see {header.width}x{header.height}, "
                    f"found {opened.size[0]}x{opened.size[1]}"
                )
            if fmt == "jpeg":
                opened.draft("RGB", (min_side, min_side))
            opened.load()
            orientation = _orientation(opened)
            reduced = _reduce(_reducible(opened), min_side=min_side)
            image = _normalise(ImageOps.exif_transpose(reduced), opened.info.get("icc_profile"))
    except (CorruptImage, ImageTooLarge):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"expected a decodable image size, found: {exc}") from exc
    except Exception as exc:  # any decoder failure on untrusted bytes
        raise CorruptImage(
            f"expected a complete {fmt.upper()} image, found one that fails to decode: {exc}"
        ) from exc
    return image, orientation


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _reducible(image: Image.Image) -> Image.Image:
    """Return ``image``, or a copy in a mode whose pixels can be averaged."""
    if image.mode in _REDUCIBLE_MODES:
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        return image.convert("I").point(lambda value: value / 256).convert("L")
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _reduce(image: Image.Image, *, min_side: int) -> Image.Image:
    """Box-reduce by the largest integer factor that keeps the short side >= ``min_side``."""
    factor = min(image.size) // min_side
    return image.reduce(factor) if factor >= 2 else image


def _normalise(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Return an RGB or RGBA copy in sRGB, without any metadata."""
    target = "RGBA" if _has_alpha(image) else "RGB"
    converted = _to_srgb(image, icc, target) if icc else None
    if converted is None:
        converted = image.convert(target)
    if target == "RGBA" and _alpha_is_opaque(converted):
        converted = converted.convert("RGB")
    converted.info = {}
    return converted


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _alpha_is_opaque(image: Image.Image) -> bool:
    low, _high = image.getchannel("A").getextrema()
    return bool(low == 255)


def _to_srgb(image: Image.Image, icc: bytes, target: str) -> Image.Image | None:
    """Convert ``image`` from its embedded ICC profile to sRGB; ``None`` if unusable."""
    if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return None
    out_mode = target if image.mode in ("RGB", "RGBA") else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        result = ImageCms.profileToProfile(image, source, srgb, outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    if result is None:
        return None
    return result if result.mode == target else result.convert(target)
