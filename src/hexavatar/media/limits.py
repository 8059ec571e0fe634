"""Limits and sizes of the upload pipeline, as frozen values passed in by the caller."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RENDITION_SIZES", "ImageLimits"]

#: Edge lengths, in pixels, of the square renditions made for every accepted image.
RENDITION_SIZES: tuple[int, ...] = (64, 128, 256, 512)


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """What an upload may cost before it is refused.

    ``max_bytes``: size of the encoded file (the web layer also enforces it while streaming).
    ``max_pixels``: width x height of the image, and of a GIF's first frame and canvas,
    checked from the header before any pixel is decoded.
    ``max_jpeg_scans``: scans (SOS segments) in a JPEG. A progressive JPEG is decoded once per
    scan over the whole coefficient buffer, so decode time grows with scans x pixels;
    ordinary encoders write 1 (baseline) to about 10-20 (progressive, mozjpeg) scans.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_jpeg_scans: int = 100

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_jpeg_scans"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"ImageLimits.{name} must be at least 1, got {value!r}")
