"""The public surface the rest of Hexavatar is wired against."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hexavatar.media as media
from hexavatar.media import errors

PACKAGE = Path(media.__file__).parent


def test_all_is_pinned() -> None:
    assert sorted(media.__all__) == sorted(
        [
            "MAX_RENDITION_SIZE",
            "RENDITION_SIZES",
            "CorruptImage",
            "DecodedImage",
            "EmptyFile",
            "FileTooLarge",
            "ImageLimits",
            "ImageTooLarge",
            "InvalidSize",
            "MediaError",
            "ProcessedImage",
            "Rendition",
            "RenditionFormat",
            "SourceFormat",
            "SvgLimits",
            "SvgRejected",
            "SvgTimeout",
            "UnsupportedFormat",
            "decode_image",
            "hexagon_alpha",
            "hexagon_mask",
            "identicon",
            "process_image",
            "rasterise_svg",
            "sniff_format",
        ]
    )
    for name in media.__all__:
        assert hasattr(media, name), name


def test_rendition_sizes_and_default_limits() -> None:
    assert media.RENDITION_SIZES == (64, 128, 256, 512)
    limits = media.ImageLimits()
    assert limits.max_bytes == 10 * 1024 * 1024
    assert limits.max_pixels == 40_000_000
    with pytest.raises(AttributeError):
        limits.max_pixels = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_pixels"):
        media.ImageLimits(max_pixels=0)


ERROR_CODES = {
    media.EmptyFile: "empty_file",
    media.UnsupportedFormat: "unsupported_format",
    media.ImageTooLarge: "image_too_large",
    media.CorruptImage: "corrupt_image",
    media.FileTooLarge: "file_too_large",
    media.InvalidSize: "invalid_size",
    media.SvgRejected: "svg_rejected",
    media.SvgTimeout: "svg_timeout",
}


@pytest.mark.parametrize(("cls", "code"), ERROR_CODES.items())
def test_errors_share_one_base_and_carry_codes(cls: type[media.MediaError], code: str) -> None:
    assert issubclass(cls, media.MediaError)
    assert issubclass(cls, ValueError)
    assert cls.code == code
    assert cls("x").code == code


def test_every_error_class_has_a_code() -> None:
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert set(classes) - {media.MediaError} == set(ERROR_CODES)


def test_package_imports_only_pillow_and_the_standard_library() -> None:
    # resvg_py: imported only inside the child process that rasterises SVG (media/svg.py).
    allowed_roots = {"PIL", "__future__", "resvg_py"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside hexavatar.media
                    continue
                roots = [(node.module or "").split(".")[0]]
            elif isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            else:
                continue
            for root in roots:
                assert root in allowed_roots or root in _stdlib(), f"{path.name} imports {root}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)
