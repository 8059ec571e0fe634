"""Whatever the bytes, the pipeline returns or raises a MediaError: never anything else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media_samples import encode, gif, jpeg, photo

from hexavatar.media import MediaError, process_image

SMALL = {
    "jpeg": jpeg(photo(40, 30)),
    "progressive": jpeg(photo(40, 30), progressive=True),
    "png": encode(photo(40, 30), "PNG"),
    "gif": gif([photo(40, 30).convert("P")]),
    "webp": encode(photo(40, 30), "WEBP"),
}


def run(data: bytes) -> None:
    try:
        result = process_image(data, sizes=(16,))
    except MediaError as exc:
        assert exc.code
        assert str(exc)
    else:
        assert len(result.renditions) == 2


@pytest.mark.parametrize("kind", SMALL)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_images_never_crash(kind: str, data: st.DataObject) -> None:
    original = bytearray(SMALL[kind])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255))))
    for position, value in flips[:8]:
        original[position] = value
    cut = data.draw(st.integers(1, len(original)))
    run(bytes(original[:cut]))


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP"]),
    tail=st.binary(max_size=200),
)
def test_signature_then_garbage_never_crashes(prefix: bytes, tail: bytes) -> None:
    run(prefix + tail)
