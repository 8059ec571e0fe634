"""SVG rasterising: pixels, aspect ratio, and what the vetting removes or refuses."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from hexavatar.media import InvalidSize, SvgLimits, SvgRejected, rasterise_svg
from hexavatar.media.svg import _sanitise

SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
XLINK_NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
RED = (255, 0, 0, 255)
BLUE = (0, 0, 255, 255)
GREEN = (0, 255, 0, 255)
CLEAR = (0, 0, 0, 0)


def svg(body: str, attrs: str = 'viewBox="0 0 10 10"') -> bytes:
    return f"<svg {SVG_NS} {XLINK_NS} {attrs}>{body}</svg>".encode()


def render(data: bytes, size: int = 64) -> Image.Image:
    png = rasterise_svg(data, size=size)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.size == (size, size)
    return image


def png_data_uri(colour: tuple[int, int, int], *, size: int = 4, fmt: str = "PNG") -> str:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(out.getvalue()).decode()}"


def clean(data: bytes) -> str:
    return _sanitise(data, limits=SvgLimits()).decode()


# --- pixels --------------------------------------------------------------------------------


def test_simple_svg_has_the_right_colours_at_the_right_pixels() -> None:
    left = '<rect width="5" height="10" fill="red"/>'
    right = '<rect x="5" width="5" height="10" fill="#00f"/>'
    image = render(svg(left + right), size=64)
    assert image.getpixel((10, 32)) == RED
    assert image.getpixel((53, 32)) == BLUE
    assert image.getpixel((31, 0)) == RED
    assert image.getpixel((33, 63)) == BLUE


def test_wide_viewbox_is_fitted_and_centred_vertically() -> None:
    image = render(svg('<rect width="200" height="100" fill="red"/>', 'viewBox="0 0 200 100"'))
    assert image.getpixel((32, 2)) == CLEAR  # top margin: 16 px
    assert image.getpixel((32, 15)) == CLEAR
    assert image.getpixel((32, 17)) == RED
    assert image.getpixel((0, 32)) == RED
    assert image.getpixel((63, 46)) == RED
    assert image.getpixel((32, 48)) == CLEAR
    assert image.getpixel((32, 63)) == CLEAR


def test_tall_size_without_viewbox_is_fitted_and_centred_horizontally() -> None:
    image = render(svg('<rect width="50" height="100" fill="blue"/>', 'width="50" height="100"'))
    assert image.getpixel((10, 32)) == CLEAR
    assert image.getpixel((17, 32)) == BLUE
    assert image.getpixel((46, 0)) == BLUE
    assert image.getpixel((49, 32)) == CLEAR


def test_preserve_aspect_ratio_inside_the_viewport_is_honoured() -> None:
    # A 10x10 viewport whose 20x10 viewBox is aligned to the top (xMidYMin meet).
    body = '<rect width="20" height="10" fill="red"/>'
    attrs = 'width="10" height="10" viewBox="0 0 20 10" preserveAspectRatio="xMidYMin meet"'
    image = render(svg(body, attrs))
    assert image.getpixel((32, 5)) == RED
    assert image.getpixel((32, 40)) == CLEAR


@pytest.mark.parametrize(
    ("viewbox", "size"),
    [("0 0 2230.3645903655065 2593.7043113360082", 7), ("0 0 4334 4436.122382805502", 21)],
)
def test_fit_stays_inside_the_square_where_resvg_rounds_up(viewbox: str, size: int) -> None:
    # Given both sides, resvg returns 7x9 and 21x22 for these; the other side is re-fitted.
    body = '<rect width="100%" height="100%" fill="red"/>'
    image = render(svg(body, f'viewBox="{viewbox}"'), size=size)
    assert image.getpixel((size // 2, 0)) == RED
    assert image.getpixel((size // 2, size - 1)) == RED


@pytest.mark.parametrize("size", [1, 17, 512])
def test_output_is_size_by_size(size: int) -> None:
    image = render(svg('<rect width="10" height="10" fill="red"/>'), size=size)
    assert image.getpixel((size // 2, size // 2)) == RED


@pytest.mark.parametrize("size", [0, -1, 2049])
def test_size_outside_the_rendered_range_is_refused(size: int) -> None:
    with pytest.raises(InvalidSize, match="between 1 and 2048"):
        rasterise_svg(svg(""), size=size)


def test_gradient_and_use_by_fragment_render() -> None:
    body = (
        '<defs><linearGradient id="g"><stop offset="0" stop-color="lime"/>'
        '<stop offset="1" stop-color="lime"/></linearGradient>'
        '<rect id="r" width="10" height="10" style="fill: url( \'#g\' )"/></defs>'
        '<use xlink:href="#r"/>'
    )
    assert render(svg(body)).getpixel((32, 32)) == GREEN


def test_text_is_drawn_with_the_system_fonts() -> None:
    if not any(Path("/usr/share/fonts").rglob("*.[ot]tf")):
        pytest.skip("no system fonts installed (Debian: fonts-dejavu-core)")
    image = render(svg('<text x="0" y="9" font-size="10" fill="red">Hi</text>'))
    colours = image.getcolors(64 * 64) or []
    drawn = [pixel for _, pixel in colours if pixel[3] == 255]  # type: ignore[index]
    assert drawn
    assert all(pixel == RED for pixel in drawn)


def test_bare_doctype_and_utf8_bom_are_accepted() -> None:
    doctype = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
    )
    data = b"\xef\xbb\xbf" + doctype + svg('<rect width="10" height="10" fill="red"/>')
    assert render(data).getpixel((32, 32)) == RED


# --- embedded images -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_data_image_inside_svg_renders(fmt: str) -> None:
    href = png_data_uri((0, 255, 0), fmt=fmt)
    image = render(svg(f'<image width="10" height="10" href="{href}"/>'))
    r, g, b, a = image.getpixel((32, 32))  # type: ignore[misc]
    assert a == 255 and g > 240 and r < 16 and b < 16


def test_data_image_with_whitespace_in_base64_is_canonicalised() -> None:
    href = png_data_uri((0, 0, 255))
    spaced = href[:40] + "\n  " + href[40:]
    cleaned = clean(svg(f'<image width="10" height="10" xlink:href=" {spaced} "/>'))
    assert f'"{href}"' in cleaned
    image = render(svg(f'<image width="10" height="10" xlink:href=" {spaced} "/>'))
    assert image.getpixel((32, 32)) == BLUE


@pytest.mark.parametrize(
    ("href", "found"),
    [
        ("data:image/svg+xml;base64," + base64.b64encode(svg("")).decode(), "reference"),
        ("data:image/png," + "%89PNG", "reference"),
        ("data:text/plain;base64,aGk=", "reference"),
        ("data:image/jpeg;base64," + png_data_uri((1, 2, 3)).split(",")[1], "expected a jpeg"),
        ("data:image/png;base64,PHN2Zz4=", "expected a png"),
        ("data:image/png;base64,!!!!", "base64"),
    ],
)
def test_data_uri_that_is_not_a_matching_raster_image_is_refused(href: str, found: str) -> None:
    with pytest.raises(SvgRejected, match=found):
        rasterise_svg(svg(f'<image width="10" height="10" href="{href}"/>'), size=16)


def test_embedded_image_over_its_byte_cap_is_refused() -> None:
    href = png_data_uri((0, 255, 0), size=64)
    with pytest.raises(SvgRejected, match="at most 100 bytes"):
        rasterise_svg(
            svg(f'<image href="{href}"/>'), size=16, limits=SvgLimits(max_image_bytes=100)
        )


def test_embedded_image_over_its_pixel_cap_is_refused_from_its_header() -> None:
    href = png_data_uri((0, 255, 0), size=200)
    with pytest.raises(SvgRejected, match="embedded png image refused"):
        rasterise_svg(
            svg(f'<image href="{href}"/>'), size=16, limits=SvgLimits(max_image_pixels=10_000)
        )


# --- what is removed -----------------------------------------------------------------------


def test_script_event_handlers_and_foreign_object_are_removed_and_the_rest_renders() -> None:
    body = (
        "<script>document.body.innerHTML = 'pwned'</script>"
        '<rect width="10" height="10" fill="red" onclick="alert(1)" onload="alert(2)"/>'
        '<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">'
        "<script>alert(3)</script></div></foreignObject>"
        '<handler type="application/ecmascript">alert(4)</handler>'
    )
    data = svg(body, 'viewBox="0 0 10 10" onload="alert(5)"')
    cleaned = clean(data)
    for gone in ("script", "alert", "onclick", "onload", "foreignObject", "handler", "xhtml"):
        assert gone not in cleaned
    assert render(data).getpixel((32, 32)) == RED


def test_removed_element_keeps_the_text_after_it() -> None:
    cleaned = clean(svg("<text>ab<script>x</script>cd<set/>ef</text>"))
    assert ">abcdef</" in cleaned


def test_animation_that_would_set_an_external_href_is_removed() -> None:
    body = (
        '<image width="10" height="10" href="#none">'
        '<set attributeName="href" to="http://127.0.0.1:9/x.png"/>'
        '<animate attributeName="xlink:href" values="/etc/passwd"/></image>'
    )
    cleaned = clean(svg(body))
    assert "127.0.0.1" not in cleaned
    assert "passwd" not in cleaned


def test_link_hrefs_are_dropped_but_their_content_renders() -> None:
    data = svg('<a href="https://example.invalid/"><rect width="10" height="10" fill="red"/></a>')
    assert "example.invalid" not in clean(data)
    assert render(data).getpixel((32, 32)) == RED


def test_elements_outside_the_svg_namespace_are_dropped() -> None:
    body = (
        '<x:image xmlns:x="urn:example" href="http://127.0.0.1:9/"/>'
        '<metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>'
    )
    cleaned = clean(svg(body))
    assert "urn:example" not in cleaned
    assert "127.0.0.1" not in cleaned
    assert "RDF" not in cleaned


def test_processing_instructions_and_comments_are_dropped() -> None:
    data = b'<?xml-stylesheet href="http://127.0.0.1:9/a.css"?><!-- c -->' + svg("<!-- d -->")
    cleaned = clean(data)
    assert "xml-stylesheet" not in cleaned
    assert "<!--" not in cleaned


# --- what is refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "etc/passwd",
        "a.png",
        "http://127.0.0.1:9/x.png",
        "https://example.invalid/x.png",
        "//example.invalid/x.png",
        "ipfs://bafy/x.png",
        "",
        "#",
        "other.svg#id",
    ],
)
@pytest.mark.parametrize("attr", ["href", "xlink:href"])
def test_reference_that_is_not_a_fragment_or_data_image_is_refused(href: str, attr: str) -> None:
    with pytest.raises(SvgRejected, match="expected a reference to '#id'"):
        rasterise_svg(svg(f'<image width="10" height="10" {attr}="{href}"/>'), size=16)


@pytest.mark.parametrize(
    "body",
    [
        '<use href="/tmp/a.svg#x"/>',
        '<filter id="f"><feImage href="/etc/hostname"/></filter>',
        '<pattern id="p" xlink:href="http://127.0.0.1:9/p.svg#p"/>',
        '<textPath href="file:///etc/passwd"/>',
        '<video src="http://127.0.0.1:9/v"/>',
    ],
)
def test_external_reference_on_any_element_is_refused(body: str) -> None:
    with pytest.raises(SvgRejected, match="reference"):
        rasterise_svg(svg(body), size=16)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("<style>@import url(http://127.0.0.1:9/a.css);</style>", "@import"),
        ("<style>@IMPORT 'http://127.0.0.1:9/a.css';</style>", "@import"),
        ("<style><![CDATA[rect { fill: url(http://127.0.0.1:9/g.svg#g) }]]></style>", "url"),
        (r"<style>rect { fill: u\72l(http://127.0.0.1:9/g) }</style>", "escapes"),
        ("<style>@font-face { src: url(data:font/woff2;base64,AAAA) }</style>", "url"),
        ('<rect style="fill:URL(file:///etc/passwd)"/>', "url"),
        ('<rect fill="url(http://127.0.0.1:9/g.svg#g)"/>', "url"),
        ('<rect mask="url(/tmp/m.svg#m)"/>', "url"),
        ('<rect filter="url(#f"/>', "url"),
    ],
)
def test_css_imports_and_external_urls_are_refused(body: str, found: str) -> None:
    with pytest.raises(SvgRejected, match=found):
        rasterise_svg(svg(body), size=16)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"".join([b"&lol%d;" % (i - 1) if i > 1 else b"&lol;"] * 10))
        for i in range(1, 10)
    )
    + b"]>"
    + svg("<text>&lol9;</text>")
)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (BILLION_LAUGHS, "internal subset"),
        (b'<!DOCTYPE svg [<!ATTLIST image href CDATA "/etc/passwd">]>' + svg(""), "subset"),
        (b'<!DOCTYPE svg SYSTEM "http://127.0.0.1:9/x.dtd">' + svg("<text>&ext;</text>"), "ext"),
        (svg("<text>&nbsp;</text>"), "undefined entity"),
    ],
)
def test_dtd_subsets_and_entities_are_refused_fast(data: bytes, found: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SvgRejected, match=found):
        rasterise_svg(data, size=512)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"", "no bytes"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>'.encode("utf-16"), "UTF-8"),
        (b"<svg " + SVG_NS.encode() + b"><text>caf\xe9</text></svg>", "UTF-8"),
        (b"hello world", "well-formed"),
        (b"<svg " + SVG_NS.encode() + b"><rect></svg>", "well-formed"),
        (b"<svg/>", "SVG namespace"),
        (b"<html><body><svg " + SVG_NS.encode() + b"/></body></html>", "found 'html'"),
        (b'<svg xmlns="http://www.w3.org/1999/xhtml"/>', "SVG namespace"),
        (svg("") + b"<trailing/>", "well-formed"),
    ],
)
def test_garbage_and_non_svg_roots_are_refused(data: bytes, found: str) -> None:
    with pytest.raises(SvgRejected, match=found):
        rasterise_svg(data, size=16)


def test_oversized_input_is_refused_before_parsing() -> None:
    data = svg("<!--" + "x" * (2 * 1024 * 1024) + "-->")
    with pytest.raises(SvgRejected, match=r"at most 2097152 bytes, found 2097\d+"):
        rasterise_svg(data, size=16)
    with pytest.raises(SvgRejected, match="at most 100 bytes"):
        rasterise_svg(svg(""), size=16, limits=SvgLimits(max_bytes=100))


def test_too_many_elements_are_refused_while_parsing() -> None:
    data = svg("<g/>" * 50_000)
    with pytest.raises(SvgRejected, match="at most 50000 elements"):
        rasterise_svg(data, size=16)
    render(svg("<g/>" * 49_999), size=8)


def test_too_deep_nesting_is_refused() -> None:
    with pytest.raises(SvgRejected, match="nested at most 128 deep"):
        rasterise_svg(svg("<g>" * 128 + "</g>" * 128), size=16)
    render(svg("<g>" * 126 + "<rect/>" + "</g>" * 126))  # root + 126 + 1 = 128


def test_limits_are_frozen_and_validated() -> None:
    limits = SvgLimits()
    assert limits.max_bytes == 2 * 1024 * 1024
    with pytest.raises(AttributeError):
        limits.timeout = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_elements"):
        SvgLimits(max_elements=0)
    for timeout in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            SvgLimits(timeout=timeout)
    with pytest.raises(ValueError, match="max_image_pixels"):
        SvgLimits(max_image_pixels=0)
    with pytest.raises(ValueError, match="64 MiB"):
        SvgLimits(max_memory=1024)


def test_errors_carry_their_codes() -> None:
    from hexavatar.media import MediaError, SvgTimeout

    assert issubclass(SvgRejected, MediaError)
    assert issubclass(SvgTimeout, MediaError)
    assert SvgRejected("x").code == "svg_rejected"
    assert SvgTimeout("x").code == "svg_timeout"
