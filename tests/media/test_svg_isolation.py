"""SVG rasterising: the renderer contacts nothing, reads no file it is pointed at, and is bounded
in time and memory; random input only ever raises a MediaError."""

from __future__ import annotations

import contextlib
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hexavatar.media import MediaError, SvgLimits, SvgRejected, SvgTimeout, rasterise_svg
from hexavatar.media import svg as svg_module
from hexavatar.media.svg import _render_in_child, _sanitise

SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'viewBox="0 0 10 10">'
)


class Listener:
    """A TCP socket listening on 127.0.0.1 that tells whether anyone connected to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]

    def accepted(self, *, wait: float = 0.3) -> int:
        """Accept every pending connection (the kernel completes them without us)."""
        count = 0
        self.sock.settimeout(wait)
        while True:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.sock.close()


def test_listener_does_count_a_connection(listener: Listener) -> None:
    with socket.create_connection(("127.0.0.1", listener.port), timeout=1):
        pass
    assert listener.accepted() == 1


def external_references(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return (
        f"{SVG_OPEN}<style>@import url({base}/a.css); rect {{ fill: url({base}/g.svg#g) }}</style>"
        f'<image width="10" height="10" href="{base}/x.png"/>'
        f'<image width="10" height="10" xlink:href="{base}/y.png"/>'
        f'<use href="{base}/u.svg#u"/>'
        f'<filter id="f"><feImage href="{base}/f.png"/></filter>'
        f'<rect width="10" height="10" filter="url(#f)" mask="url({base}/m.svg#m)"/>'
        "</svg>"
    )


def test_external_http_references_are_refused_and_nothing_connects(listener: Listener) -> None:
    with pytest.raises(SvgRejected, match=f"127.0.0.1:{listener.port}"):
        rasterise_svg(external_references(listener.port).encode(), size=32)
    assert listener.accepted() == 0


def test_even_unvetted_the_renderer_makes_no_connection(listener: Listener) -> None:
    # Skip the vetting on purpose: resvg itself has no network code, a second line of defence.
    png = _render_in_child(external_references(listener.port).encode(), size=32, limits=SvgLimits())
    assert Image.open(io.BytesIO(png)).size == (32, 32)
    assert listener.accepted() == 0


def test_unvetted_resvg_would_read_a_local_path_which_is_why_paths_are_refused(
    tmp_path: Path,
) -> None:
    # Pins the threat the vetting exists for: resvg loads <image href="/abs/path.png">.
    secret = tmp_path / "secret.png"
    Image.new("RGB", (4, 4), (0, 255, 0)).save(secret)
    body = f'<image width="10" height="10" href="{secret}"/></svg>'
    png = _render_in_child((SVG_OPEN + body).encode(), size=16, limits=SvgLimits())
    assert Image.open(io.BytesIO(png)).getpixel((8, 8)) == (0, 255, 0, 255)
    for href in (str(secret), f"file://{secret}", "secret.png"):
        data = (SVG_OPEN + f'<image width="10" height="10" href="{href}"/></svg>').encode()
        with pytest.raises(SvgRejected, match="expected a reference"):
            rasterise_svg(data, size=16)


# --- time and memory -----------------------------------------------------------------------

# One filter whose region is 20x the canvas, blurred and dilated: over a minute of CPU at 512 px.
FILTER_BOMB = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
    b'<filter id="f" x="-10" y="-10" width="20" height="20">'
    b'<feGaussianBlur stdDeviation="50"/><feMorphology radius="40"/></filter>'
    b'<rect width="100" height="100" filter="url(#f)"/></svg>'
)


def use_bomb(levels: int) -> bytes:
    """Each level uses the one below twice: 2**levels filtered rectangles from ~1 KB."""
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        '<filter id="f"><feGaussianBlur stdDeviation="3"/></filter>'
        '<defs><rect id="l0" width="50" height="50" filter="url(#f)"/>'
    ]
    for i in range(1, levels):
        parts.append(f'<g id="l{i}"><use href="#l{i - 1}"/><use href="#l{i - 1}" x="1"/></g>')
    parts.append(f'</defs><use href="#l{levels - 1}"/></svg>')
    return "".join(parts).encode()


@pytest.mark.parametrize("data", [FILTER_BOMB, use_bomb(14)], ids=["filter", "use"])
def test_render_that_runs_too_long_is_killed_and_raises_svg_timeout(data: bytes) -> None:
    limits = SvgLimits(timeout=1.0)
    started = time.perf_counter()
    with pytest.raises(SvgTimeout, match=r"within 1\.0 s") as caught:
        rasterise_svg(data, size=512, limits=limits)
    assert caught.value.code == "svg_timeout"
    assert time.perf_counter() - started < limits.timeout + 2.0


def nested_layers(depth: int) -> bytes:
    """Each group with opacity needs its own canvas-sized layer while it is drawn."""
    groups = '<g opacity="0.9">' * depth
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">{groups}'
        f'<rect width="10" height="10" fill="red"/>{"</g>" * depth}</svg>'
    ).encode()


def test_render_that_needs_too_much_memory_is_refused() -> None:
    limits = SvgLimits(max_memory=160 * 2**20)
    png = rasterise_svg(nested_layers(1), size=2048, limits=limits)
    assert Image.open(io.BytesIO(png)).getpixel((1024, 1024))[3] > 200  # type: ignore[index]
    with pytest.raises(SvgRejected, match="within 160 MiB of memory"):
        rasterise_svg(nested_layers(30), size=2048, limits=limits)


def test_huge_declared_canvas_is_rendered_at_the_requested_size() -> None:
    # Unscaled, resvg would allocate 40 GB for this canvas and abort its process.
    data = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000">'
        b'<rect width="100000" height="100000" fill="red"/></svg>'
    )
    png = rasterise_svg(data, size=64)
    assert Image.open(io.BytesIO(png)).getpixel((32, 32)) == (255, 0, 0, 255)


def test_a_child_that_cannot_start_is_a_server_fault_not_a_media_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(svg_module, "_CHILD_CODE", "import resvg_py_is_not_installed")
    with pytest.raises(RuntimeError, match=r"(?s)could not start: .*resvg_py_is_not_installed"):
        rasterise_svg((SVG_OPEN + "</svg>").encode(), size=16)


def test_renderer_errors_are_svg_rejected() -> None:
    data = b'<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>'
    with pytest.raises(SvgRejected, match="renderer refused"):
        rasterise_svg(data, size=16)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_media_errors(data: bytes) -> None:
    with contextlib.suppress(MediaError):
        rasterise_svg(data, size=16)


FRAGMENTS = [
    "<rect/>",
    '<rect width="5" height="5" fill="red"/>',
    '<circle r="3" cx="5" cy="5"/>',
    "<g>",
    "</g>",
    '<use href="#a"/>',
    '<image href="x.png"/>',
    "<script>1</script>",
    '<text y="5">x</text>',
    '<path d="M0 0L10 10z" stroke="blue"/>',
    '<filter id="f"><feGaussianBlur stdDeviation="1"/></filter>',
    '<rect filter="url(#f)" width="4" height="4"/>',
    "&amp;",
    "<!DOCTYPE x>",
    "]]>",
    '<svg width="-1"/>',
    '<rect style="fill:url(#z)"/>',
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12))
def test_svg_shaped_input_renders_or_raises_only_media_errors(parts: list[str]) -> None:
    data = (SVG_OPEN + "".join(parts) + "</svg>").encode()
    try:
        png = rasterise_svg(data, size=16)
    except MediaError:
        return
    assert Image.open(io.BytesIO(png)).size == (16, 16)


VETTED_FRAGMENTS = [
    '<rect fill="url(#a)" onclick="x"/>',
    "<g>",
    "</g>",
    "<text>a",
    "</text>",
    "<script>c</script>",
    '<a href="http://127.0.0.1:9/">',
    "</a>",
    '<use xlink:href=" #a "/>',
    '<x:y xmlns:x="urn:x">t</x:y>',
    "&amp;&lt;&#10;",
    '<style>r{fill:url( "#q" )}</style>',
    '<rect a="&#9;&#13;&#10; x&quot;"/>',
    '<text xml:space="preserve">  s  </text>',
    '<set to="x"/>',
    "<![CDATA[<&>]]>",
    '<rect id="\u00e9"/>',
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VETTED_FRAGMENTS), max_size=20))
def test_what_the_renderer_receives_parses_back_to_the_vetted_tree(parts: list[str]) -> None:
    # resvg gets our serialisation, never the input: it must be a fixed point of the vetting.
    data = (SVG_OPEN + "".join(parts) + "</svg>").encode()
    try:
        once = _sanitise(data, limits=SvgLimits())
    except MediaError:
        return
    assert _sanitise(once, limits=SvgLimits()) == once
