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
    scan over the whole coefficient buffer, so decode time grows with scans x pixels, and a
    scan can be a few bytes long; ordinary encoders write 1 (baseline) to about 10-20
    (progressive) scans.
    ``max_jpeg_scan_pixels``: scans x pixels, the decode work of a progressive JPEG. The
    default allows 100 scans up to 10 MP and 25 scans at 40 MP.

    Scan limits are checked from the bytes before decoding, like the others.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_jpeg_scans: int = 100
    max_jpeg_scan_pixels: int = 1_000_000_000

    def max_scans_for(self, pixels: int) -> int:
        """How many JPEG scans an image of ``pixels`` pixels may have."""
        return min(self.max_jpeg_scans, self.max_jpeg_scan_pixels // max(pixels, 1))

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_jpeg_scans", "max_jpeg_scan_pixels"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"ImageLimits.{name} must be at least 1, got {value!r}")
