"""Benchmark: a 12-megapixel JPEG upload through hexavatar.media, against a naive Pillow baseline.

Input: a generated 4000x3000 JPEG (quality 90) with gradients, a fractal and seeded noise, so
it compresses about like a photograph (deterministic for a given Pillow build).

* pipeline: ``process_image`` (header checks, draft-mode decode, orientation, metadata strip,
  centre crop, 4 sizes x WebP + PNG).
* baseline: the naive way, in the same process: full decode, ``exif_transpose``, centre crop,
  each size resized (Lanczos) from the full-size crop, encoded with the same encoder settings.

Time: median wall time over ``--runs`` runs each (after one warm-up run).
Memory: peak resident set size of a fresh Python subprocess that runs one upload, read from
Linux's ``VmHWM`` in /proc/self/status (the high-water mark of this process image; unlike
``ru_maxrss`` it is not inherited from the parent across fork/exec). Reported as the peak and
as the growth over the RSS just before the call (after imports and reading the file; the mark
is reset there through /proc/self/clear_refs). tracemalloc is not used: it does not see the
pixel buffers Pillow allocates in C.

Usage: ``python benchmarks/bench_upload.py [--runs N]``. The last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageOps

from hexavatar.media import RENDITION_SIZES, process_image
from hexavatar.media.renditions import encode

WIDTH, HEIGHT = 4000, 3000
TARGET_RATIO = 0.35
TARGET_PEAK_MIB = 100


def make_jpeg(*, seed: int = 12) -> bytes:
    """A 4000x3000 JPEG, quality 90, that is neither flat nor pure noise."""
    size = (WIDTH, HEIGHT)
    ramp = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    fractal = Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 64)
    noise_bytes = random.Random(seed).randbytes(WIDTH * HEIGHT)
    noise = Image.frombytes("L", size, noise_bytes).point(lambda v: v // 8)
    channels = (
        ImageChops.add(ramp, noise),
        ImageChops.add(radial, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        ImageChops.add(fractal, noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM)),
    )
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=90)
    return out.getvalue()


def naive_baseline(data: bytes) -> list[bytes]:
    """Full-size decode, then every rendition resized from the full-size square."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = ImageOps.exif_transpose(opened)
    if image.mode != "RGB":
        image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    outputs = []
    for size in RENDITION_SIZES:
        resized = square.resize((size, size), Image.Resampling.LANCZOS)
        outputs += [encode(resized, "webp"), encode(resized, "png")]
    return outputs


def pipeline(data: bytes) -> list[bytes]:
    return [rendition.data for rendition in process_image(data).renditions]


METHODS: dict[str, Callable[[bytes], list[bytes]]] = {
    "pipeline": pipeline,
    "baseline": naive_baseline,
}


def median_seconds(method: Callable[[bytes], list[bytes]], data: bytes, runs: int) -> float:
    method(data)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        method(data)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def child(method: str, path: str) -> None:
    """Run one upload in this fresh process and print its memory figures as JSON."""
    data = Path(path).read_bytes()
    _reset_peak()
    before = _status_mib("VmRSS")
    METHODS[method](data)
    peak = _status_mib("VmHWM")
    print(json.dumps({"peak_rss_mib": round(peak, 1), "growth_mib": round(peak - before, 1)}))


def measure_memory(method: str, data: bytes) -> dict[str, float]:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(data)
        file.flush()
        completed = subprocess.run(
            [sys.executable, __file__, "--child", method, file.name],
            check=True,
            capture_output=True,
            text=True,
        )
    figures: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    data = make_jpeg()
    print(f"input: {WIDTH}x{HEIGHT} JPEG q90, {len(data) / 2**20:.2f} MiB; runs: {args.runs}")
    seconds = {name: median_seconds(method, data, args.runs) for name, method in METHODS.items()}
    memory = {name: measure_memory(name, data) for name in METHODS}
    ratio = seconds["pipeline"] / seconds["baseline"]
    for name in METHODS:
        print(
            f"{name:9} median {seconds[name] * 1000:7.1f} ms   "
            f"peak RSS {memory[name]['peak_rss_mib']:6.1f} MiB "
            f"(+{memory[name]['growth_mib']:.1f} MiB during the call, fresh process)"
        )
    print(f"time ratio pipeline/baseline: {ratio:.3f} (target <= {TARGET_RATIO})")
    result = {
        "input_bytes": len(data),
        "input_size": [WIDTH, HEIGHT],
        "runs": args.runs,
        "pipeline_median_ms": round(seconds["pipeline"] * 1000, 1),
        "baseline_median_ms": round(seconds["baseline"] * 1000, 1),
        "time_ratio": round(ratio, 3),
        "time_ratio_target": TARGET_RATIO,
        "pipeline_peak_rss_mib": memory["pipeline"]["peak_rss_mib"],
        "pipeline_rss_growth_mib": memory["pipeline"]["growth_mib"],
        "baseline_peak_rss_mib": memory["baseline"]["peak_rss_mib"],
        "baseline_rss_growth_mib": memory["baseline"]["growth_mib"],
        "peak_target_mib": TARGET_PEAK_MIB,
        "memory_measure": "VmHWM (peak RSS) of a fresh subprocess running one upload",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
