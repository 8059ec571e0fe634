"""Rasterise an untrusted SVG (many on-chain NFT images are SVG) to a PNG, safely.

The renderer is resvg (the ``resvg-py`` wheel: Rust, no system library, wheels for Linux x86_64
and aarch64). It has no scripting engine and no network code, so no SVG can run a script or make
it connect anywhere. CairoSVG was not chosen: it needs the system libcairo and fetches every
external URL unless ``url_fetcher`` is overridden. resvg does read local files, though: an
``<image>`` or ``<feImage>`` whose href is a plain path (``/srv/secret.png``, or ``a.png``
relative to the working directory) is loaded from disk (``file://`` URLs are not). So nothing
foreign reaches resvg: the SVG is parsed and vetted here, and resvg renders *the tree we vetted*,
serialised again, never the input bytes (no parser differential can smuggle anything through).

Vetting (in this process, standard library only):

* at most ``max_bytes`` of strict UTF-8; the document's own encoding declaration is ignored;
* XML parsed by expat with a DOCTYPE allowed only bare (common in editors' exports): an internal
  subset (entities, so billion laughs; attribute defaults) is refused as soon as it starts, an
  external DTD or entity is never loaded, an undeclared entity is an error;
* at most ``max_elements`` elements nested at most ``max_depth`` deep, counted while parsing;
* the root is ``<svg>`` in the SVG namespace (browsers render nothing else as an image);
* removed (they never render in resvg, nor in a browser's ``<img>``): ``<script>``,
  ``<foreignObject>``, SVG 1.2 ``<handler>``, animation elements (one can set an href), elements
  outside the SVG namespace, ``on*`` event attributes, ``xml:base``, and links' hrefs;
* every other ``href``/``xlink:href``/``src`` must be a same-document fragment (``#id``) or a
  base64 ``data:`` URI of a PNG, JPEG, GIF or WebP whose magic bytes match its declared type,
  of at most ``max_image_bytes`` and ``max_image_pixels`` (checked from its header); such a URI is
  rewritten in a canonical form. An SVG inside a ``data:`` URI is refused (resvg would render it
  unvetted). Anything else is refused with :class:`SvgRejected`;
* ``url(...)`` in any attribute or stylesheet must be a fragment; ``@import`` and CSS escapes
  (which could spell either) are refused in ``style`` attributes and ``<style>`` elements.

Rendering runs in a child process (``python -I``, empty environment) with a wall-clock timeout
(:class:`SvgTimeout`, the child is killed), and on Linux ``RLIMIT_AS`` (``max_memory``), a CPU-time
limit, no core dumps and no file writes. Huge filter regions, exponential ``<use>`` trees and
huge canvases can run for minutes or abort the process that renders them; only the child dies.
resvg reads the installed system fonts (for ``<text>``) and nothing else. The child costs about
50-60 ms per call on an idle 2-core machine (Python start, imports, font database; measured in
docs/media.md), small beside an NFT fetch, and the web process never loads the renderer at all.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from xml.etree import ElementTree
from xml.parsers import expat

from PIL import Image

from .errors import InvalidSize, MediaError, SvgRejected, SvgTimeout, quote_head
from .header import read_header
from .limits import ImageLimits
from .renditions import MAX_RENDITION_SIZE, encode
from .sniff import sniff_format

__all__ = ["SvgLimits", "rasterise_svg"]

_SVG_NS = "http://www.w3.org/2000/svg"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_SVG_ROOT = f"{{{_SVG_NS}}}svg"
# Elements removed with their subtree (local names, in the SVG namespace).
_DROPPED_ELEMENTS = frozenset(
    {"script", "foreignObject", "handler", "animate", "animateColor", "animateMotion"}
    | {"animateTransform", "set", "discard"}
)
_LINK = f"{{{_SVG_NS}}}a"
_STYLE = f"{{{_SVG_NS}}}style"
_REFERENCE_NAMES = frozenset({"href", "src"})
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,(.*)", re.I | re.S)
_URL_FUNCTION = re.compile(r"url\(", re.I)
_WHITESPACE = re.compile(r"\s+")
_QUOTE_LIMIT = 60

# Exit codes of the child besides 0; 1 is Python's own for an exception outside the render (the
# child could not start), and a signal gives a negative return code.
_EXIT_COULD_NOT_START = 1
_EXIT_REFUSED = 65
_EXIT_NO_MEMORY = 70
_CHILD_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from hexavatar.media.svg import _child_main; _child_main()"
)


@dataclass(frozen=True, slots=True)
class SvgLimits:
    """What rasterising one SVG may cost before it is refused.

    ``max_bytes``: the SVG file. ``max_elements`` and ``max_depth``: XML elements in total and
    their nesting. ``max_image_bytes`` and ``max_image_pixels``: each embedded ``data:`` image
    (decoded bytes; width x height from its header). ``timeout``: wall-clock seconds for the
    render, child start included. ``max_memory``: the child's address space in bytes (Linux).
    """

    max_bytes: int = 2 * 1024 * 1024
    max_elements: int = 50_000
    max_depth: int = 128
    max_image_bytes: int = 1024 * 1024
    max_image_pixels: int = 16_000_000
    timeout: float = 5.0
    max_memory: int = 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_elements",
            "max_depth",
            "max_image_bytes",
            "max_image_pixels",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"SvgLimits.{name} must be at least 1, got {getattr(self, name)}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"SvgLimits.timeout must be a positive number, got {self.timeout!r}")
        if self.max_memory < 64 * 2**20:
            raise ValueError(f"SvgLimits.max_memory must be at least 64 MiB, got {self.max_memory}")


def rasterise_svg(data: bytes, *, size: int, limits: SvgLimits = SvgLimits()) -> bytes:
    """Render the SVG ``data`` to a ``size`` x ``size`` RGBA PNG, fitted and centred.

    The picture keeps its aspect ratio; the margins are transparent. Feed the result to
    :func:`~hexavatar.media.process_image`. Raises :class:`~hexavatar.media.errors.InvalidSize`
    for a size outside 1..2048, :class:`SvgRejected` for any input refused (see the module
    docstring) and :class:`SvgTimeout` when rendering takes longer than ``limits.timeout``.
    """
    if not 1 <= size <= MAX_RENDITION_SIZE:
        raise InvalidSize(f"expected an SVG size between 1 and {MAX_RENDITION_SIZE}, found {size}")
    clean = _sanitise(data, limits=limits)
    return _fit(_render_in_child(clean, size=size, limits=limits), size=size)


# --- vetting -------------------------------------------------------------------------------


def _sanitise(data: bytes, *, limits: SvgLimits) -> bytes:
    """Parse and vet ``data``; return the cleaned tree serialised again, as UTF-8."""
    if not data:
        raise SvgRejected("expected an SVG document, found no bytes")
    if len(data) > limits.max_bytes:
        raise SvgRejected(f"expected an SVG of at most {limits.max_bytes} bytes, found {len(data)}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SvgRejected(f"expected UTF-8 text, found byte {data[exc.start]:#04x}") from None
    root = _parse(data, limits=limits)
    if root.tag != _SVG_ROOT:
        raise SvgRejected(f"expected an <svg> root in the SVG namespace, found {_quote(root.tag)}")
    _clean_tree(root, limits=limits)
    return ElementTree.tostring(root, encoding="unicode").encode("utf-8")


def _parse(data: bytes, *, limits: SvgLimits) -> ElementTree.Element:
    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate(encoding="UTF-8", namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    depth = count = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth, count
        depth, count = depth + 1, count + 1
        if count > limits.max_elements or depth > limits.max_depth:
            raise SvgRejected(
                f"expected at most {limits.max_elements} elements nested at most "
                f"{limits.max_depth} deep, found more at line {parser.CurrentLineNumber}"
            )
        builder.start(_qualify(name), {_qualify(k): v for k, v in attributes.items()})

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(_qualify(name))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    _forbid_declarations(parser)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise SvgRejected(f"expected well-formed XML, found {exc}") from None
    return builder.close()


def _forbid_declarations(parser: expat.XMLParserType) -> None:
    """Refuse a DTD internal subset, and any entity the parser would have to look up."""

    def doctype(name: str, system_id: str | None, public_id: str | None, subset: int) -> None:
        if subset:
            raise SvgRejected(
                "expected no DTD internal subset (entity or attribute declarations), "
                f"found one in <!DOCTYPE {_quote(name)}>"
            )

    def entity(*args: object) -> NoReturn:
        raise SvgRejected(f"expected no entities, found a reference to {_quote(str(args[0]))}")

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = entity
    parser.SkippedEntityHandler = entity


def _qualify(name: str) -> str:
    """Turn expat's ``uri}local`` into ElementTree's ``{uri}local``."""
    return "{" + name if "}" in name else name


def _clean_tree(root: ElementTree.Element, *, limits: SvgLimits) -> None:
    _clean_attributes(root, limits=limits)
    stack = [root]
    while stack:
        parent = stack.pop()
        for index in range(len(parent) - 1, -1, -1):
            child = parent[index]
            if _is_dropped(child.tag):
                _remove(parent, index)
                continue
            _clean_attributes(child, limits=limits)
            if child.tag == _STYLE:
                _check_css("".join(child.itertext()), where="<style>")
            stack.append(child)


def _is_dropped(tag: object) -> bool:
    if not isinstance(tag, str) or not tag.startswith(f"{{{_SVG_NS}}}"):
        return True  # elements outside the SVG namespace render nothing
    return tag.partition("}")[2] in _DROPPED_ELEMENTS


def _remove(parent: ElementTree.Element, index: int) -> None:
    """Remove ``parent[index]`` but keep the text that followed it."""
    tail = parent[index].tail
    if tail:
        if index > 0:
            parent[index - 1].tail = (parent[index - 1].tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    del parent[index]


def _clean_attributes(element: ElementTree.Element, *, limits: SvgLimits) -> None:
    for name, value in list(element.attrib.items()):
        local = name.rpartition("}")[2]
        if local.lower().startswith("on") or name == f"{{{_XML_NS}}}base":
            del element.attrib[name]
        elif local in _REFERENCE_NAMES:
            if element.tag == _LINK:
                del element.attrib[name]
            else:
                element.attrib[name] = _vet_reference(value, limits=limits)
        elif local == "style":
            _check_css(value, where="a style attribute")
        elif _URL_FUNCTION.search(value):
            _check_urls(value, where=f"attribute {local}")


def _vet_reference(value: str, *, limits: SvgLimits) -> str:
    """Return the reference to keep (fragment, canonical data: image) or refuse it."""
    target = value.strip()
    if target.startswith("#") and len(target) > 1:
        return target
    match = _DATA_IMAGE.fullmatch(target)
    if match is None:
        raise SvgRejected(
            "expected a reference to '#id' or a base64 data: URI of a PNG, JPEG, GIF or WebP "
            f"image, found {_quote(value)}"
        )
    return _vet_data_image(match.group(1).lower(), match.group(2), limits=limits)


def _vet_data_image(declared: str, payload: str, *, limits: SvgLimits) -> str:
    payload = _WHITESPACE.sub("", payload)
    # 4 base64 characters carry 3 bytes: refuse a long payload before decoding it.
    if len(payload) * 3 // 4 > limits.max_image_bytes + 2:
        raise _embedded_too_large(len(payload) * 3 // 4, limits=limits)
    try:
        image = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise SvgRejected(f"expected base64 in a data: URI, found {_quote(payload)}") from None
    if len(image) > limits.max_image_bytes:
        raise _embedded_too_large(len(image), limits=limits)
    fmt = sniff_format(image[:12])
    if fmt is None or fmt != {"jpg": "jpeg"}.get(declared, declared):
        raise SvgRejected(f"expected a {declared} data: image, found bytes {quote_head(image)}")
    image_limits = ImageLimits(max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)
    try:
        read_header(image, fmt, limits=image_limits)
    except MediaError as exc:
        raise SvgRejected(f"embedded {fmt} image refused: {exc}") from None
    return f"data:image/{fmt};base64,{base64.b64encode(image).decode('ascii')}"


def _embedded_too_large(found: int, *, limits: SvgLimits) -> SvgRejected:
    return SvgRejected(
        f"expected embedded images of at most {limits.max_image_bytes} bytes, found {found}"
    )


def _check_css(text: str, *, where: str) -> None:
    lowered = text.lower()
    if "@import" in lowered or "\\" in text:
        raise SvgRejected(
            f"expected CSS without @import or escapes in {where}, found {_quote(text)}"
        )
    _check_urls(text, where=where)


def _check_urls(text: str, *, where: str) -> None:
    for match in _URL_FUNCTION.finditer(text):
        end = text.find(")", match.end())
        target = text[match.end() : end].strip().strip("'\"").strip() if end >= 0 else ""
        if not target.startswith("#"):
            raise SvgRejected(
                f"expected only url(#id) in {where}, found {_quote(text[match.start() :])}"
            )


def _quote(text: str) -> str:
    return repr(text[:_QUOTE_LIMIT]) + ("..." if len(text) > _QUOTE_LIMIT else "")


# --- rendering -----------------------------------------------------------------------------


def _render_in_child(svg: bytes, *, size: int, limits: SvgLimits) -> bytes:
    """Render already vetted ``svg`` with resvg in a child process; return its PNG."""
    cpu_seconds = math.ceil(limits.timeout) + 1
    package_root = str(Path(__file__).resolve().parents[2])  # the child runs this same code
    command = [sys.executable, "-I", "-c", _CHILD_CODE, package_root]
    command += [str(size), str(limits.max_memory), str(cpu_seconds)]
    try:
        done = subprocess.run(
            command, input=svg, capture_output=True, timeout=limits.timeout, env={}, check=False
        )
    except subprocess.TimeoutExpired:
        raise SvgTimeout(
            f"expected the SVG to render within {limits.timeout} s; it was stopped"
        ) from None
    if done.returncode == 0:
        return done.stdout
    if done.returncode == _EXIT_COULD_NOT_START:  # a fault of this server, not of the SVG
        stderr = done.stderr.decode("utf-8", "replace").strip()[-500:]
        raise RuntimeError(f"the SVG renderer process could not start: {stderr}")
    raise _child_failure(done.returncode, done.stderr, limits=limits)


def _child_failure(returncode: int, stderr: bytes, *, limits: SvgLimits) -> MediaError:
    reason = stderr.decode("utf-8", "replace").strip()[-200:]
    if returncode == -signal.SIGXCPU:
        return SvgTimeout(f"expected the SVG to render within {limits.timeout} s of CPU time")
    if returncode in (_EXIT_NO_MEMORY, -signal.SIGABRT, -signal.SIGKILL):
        return SvgRejected(
            f"expected the SVG to render within {limits.max_memory // 2**20} MiB of memory; "
            f"the renderer stopped ({returncode}): {_quote(reason)}"
        )
    if returncode == _EXIT_REFUSED:
        return SvgRejected(f"the renderer refused the SVG: {_quote(reason)}")
    return SvgRejected(f"the renderer stopped with status {returncode}: {_quote(reason)}")


def _fit(png: bytes, *, size: int) -> bytes:
    """Centre resvg's output (fitted inside ``size`` x ``size``) on a transparent square."""
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        width, height = image.size
        if width > size or height > size:
            raise SvgRejected(f"expected a render within {size}x{size}, found {width}x{height}")
        if (width, height) == (size, size) and image.mode == "RGBA":
            return png
        canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        canvas.paste(image.convert("RGBA"), ((size - width) // 2, (size - height) // 2))
    return encode(canvas, "png")


def _child_main() -> None:
    """The child: limit resources, read vetted SVG on stdin, write the PNG on stdout."""
    size, max_memory, cpu_seconds = (int(arg) for arg in sys.argv[2:5])
    _limit_resources(max_memory=max_memory, cpu_seconds=cpu_seconds)
    from resvg_py import svg_to_bytes

    svg = sys.stdin.buffer.read().decode("utf-8")
    try:
        png = _render_fitted(svg_to_bytes, svg, size=size)
    except MemoryError:
        sys.exit(_EXIT_NO_MEMORY)
    except BaseException as exc:  # ValueError for bad SVG, PanicException for a Rust panic
        sys.stderr.write(f"{type(exc).__name__}: {exc}"[:500])
        sys.exit(_EXIT_REFUSED)
    sys.stdout.buffer.write(png)
    sys.stdout.flush()


def _render_fitted(render: Callable[..., bytes], svg: str, *, size: int) -> bytes:
    """Render inside ``size`` x ``size``. Given both sides, resvg can round the other side up
    past the box (a 2230x2594 viewBox at 7 px gives 7x9), so then fit on that side alone."""
    png = render(svg_string=svg, width=size, height=size)
    width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR
    if height > size:
        return render(svg_string=svg, height=size)
    if width > size:
        return render(svg_string=svg, width=size)
    return png


def _limit_resources(*, max_memory: int, cpu_seconds: int) -> None:
    if sys.platform != "linux":
        return  # the wall-clock timeout still applies
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
