"""Streaming multipart/form-data reader with byte limits checked while the body arrives.

Starlette's form parser spools whole files before a route sees them; an upload limit must stop
reading as soon as it is crossed, so routes that take files read the body through this module
(python-multipart's push parser, fed chunk by chunk). A body over the limit raises
:class:`BodyTooLarge` at once and the rest is never read; the server then closes the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

__all__ = ["BodyTooLarge", "FormData", "MalformedForm", "Part", "read_form", "read_request_form"]

_TEXT_FIELD_MAX = 64 * 1024
_MAX_PARTS = 16


class MalformedForm(ValueError):
    code = "malformed_multipart"


class BodyTooLarge(ValueError):
    code = "file_too_large"


@dataclass(slots=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class FormData:
    parts: dict[str, Part]

    def file(self, name: str) -> Part | None:
        part = self.parts.get(name)
        return part if part is not None and part.filename is not None else None

    def text(self, name: str) -> str | None:
        part = self.parts.get(name)
        if part is None:
            return None
        try:
            text = bytes(part.data).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedForm(f"form field {name!r}: expected UTF-8 text") from None
        if "\x00" in text:
            raise MalformedForm(f"form field {name!r}: NUL characters are not allowed")
        return text


def _disposition(value: bytes) -> tuple[str, str | None]:
    kind, params = parse_options_header(value)
    if kind != b"form-data" or b"name" not in params:
        raise MalformedForm("multipart part: expected Content-Disposition: form-data; name=…")
    filename = params.get(b"filename")
    return params[b"name"].decode("utf-8", "replace"), (
        filename.decode("utf-8", "replace") if filename is not None else None
    )


class _Collector:
    def __init__(self, *, max_file_bytes: int) -> None:
        self.parts: dict[str, Part] = {}
        self._max_file = max_file_bytes
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._current: Part | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._set("_field", self._field + d[s:e]),
            "on_header_value": lambda d, s, e: self._set("_value", self._value + d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
        }

    def _set(self, attr: str, value: bytes) -> None:
        setattr(self, attr, value)

    def _part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        disp = self._headers.get(b"content-disposition")
        if disp is None:
            raise MalformedForm("multipart part: Content-Disposition header missing")
        name, filename = _disposition(disp)
        if name in self.parts or len(self.parts) >= _MAX_PARTS:
            raise MalformedForm(f"form field {name[:40]!r}: given twice or too many fields")
        ctype = self._headers.get(b"content-type", b"application/octet-stream")
        self._current = Part(name, filename, ctype.decode("latin-1"))

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._current
        if part is None:
            raise MalformedForm("multipart body: data outside a part")
        part.data += data[start:end]
        limit = self._max_file if part.filename is not None else _TEXT_FIELD_MAX
        if len(part.data) > limit:
            what = "file" if part.filename is not None else "text field"
            raise BodyTooLarge(f"{what} {part.name!r}: larger than the limit of {limit} bytes")

    def _part_end(self) -> None:
        if self._current is not None:
            self.parts[self._current.name] = self._current
        self._current = None


async def read_form(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    *,
    max_file_bytes: int,
) -> FormData:
    """Parse a multipart body, stopping as soon as any limit is crossed."""
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise MalformedForm(
            f"request body: expected multipart/form-data with a boundary, "
            f"found {(content_type or 'no Content-Type')[:60]!r}"
        )
    max_body = max_file_bytes + _TEXT_FIELD_MAX * 2
    if content_length is not None and content_length.isdigit() and int(content_length) > max_body:
        raise BodyTooLarge(f"request body of {content_length} bytes is larger than {max_body}")
    collector = _Collector(max_file_bytes=max_file_bytes)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > max_body:
            raise BodyTooLarge(f"request body is larger than {max_body} bytes")
        try:
            parser.write(chunk)
        except (MalformedForm, BodyTooLarge):
            raise
        except Exception as e:
            raise MalformedForm(f"multipart body: {e}") from None
    if parser.state != MultipartState.END:
        raise MalformedForm("multipart body: ended before its closing boundary")
    return FormData(collector.parts)


async def read_request_form(request: Request, *, max_file_bytes: int) -> FormData:
    """:func:`read_form` over a request's headers and streamed body."""
    return await read_form(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        max_file_bytes=max_file_bytes,
    )
