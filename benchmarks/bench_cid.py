#!/usr/bin/env python3
"""CID throughput of hexavatar.ipfs against plain hashlib.sha256, in the same run.

For each import profile: the CID of one 100 MiB buffer (only-hash, as ``ipfs add -n``), next to
``hashlib.sha256`` over the same bytes. Each figure is the best of several interleaved rounds
(interleaving spreads CPU-frequency and neighbour noise over every method alike). Then the peak
memory growth of a 1 GiB streamed import, generated on the fly (never stored), measured two ways
in a fresh subprocess per profile:

- resident set (``VmHWM``, the ``ru_maxrss`` of the process itself): the high-water mark of
  resident memory, which counts every allocation (Python objects, hashlib state, buffers, the
  allocator's slack); growth = high-water mark after the import - resident set just before it
  (the mark is reset first through ``/proc/self/clear_refs``; where that fails the figure is an
  upper bound). ``getrusage().ru_maxrss`` itself is not used on Linux: after ``exec`` it keeps
  the parent's peak. The fresh subprocess, started before the 100 MiB buffer exists, keeps the
  throughput part out of the figure. This is the figure held to the 64 MiB limit.
- ``tracemalloc``: the peak of memory allocated through Python's allocator during the import.

Usage: python benchmarks/bench_cid.py [--size-mib 100] [--rounds 5] [--stream-gib 1]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hexavatar.ipfs import PROFILES, import_bytes

TARGETS = {"unixfs-v0-2015": 0.85, "cid-version-1": 0.90, "unixfs-v1-2025": 0.90}


def _best_seconds(rounds: int, work: dict[str, object]) -> dict[str, float]:
    best = {name: float("inf") for name in work}
    for _ in range(rounds):
        for name, run in work.items():
            start = time.perf_counter()
            run()  # type: ignore[operator]
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def throughput(size: int, rounds: int) -> dict[str, object]:
    data = random.Random(1).randbytes(size)
    work: dict[str, object] = {"sha256": lambda: hashlib.sha256(data).digest()}
    for name, profile in PROFILES.items():
        work[name] = lambda p=profile: import_bytes(data, profile=p)
    best = _best_seconds(rounds, work)
    gbps = {name: size / seconds / 1e9 for name, seconds in best.items()}
    ratios = {name: gbps[name] / gbps["sha256"] for name in PROFILES}
    return {"bytes": size, "rounds": rounds, "gb_per_s": gbps, "ratio_to_sha256": ratios}


_CHILD = r"""
import json, random, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[1])
from hexavatar.ipfs import PROFILES, import_stream

class Generated:
    def __init__(self, size):
        self.left = size
        self.block = bytearray(random.Random(9).randbytes(1 << 20))
        self.count = 0
    def readinto(self, buffer):
        n = min(len(buffer), len(self.block), self.left)
        self.count += 1
        self.block[:8] = self.count.to_bytes(8, "little")
        buffer[:n] = self.block[:n]
        self.left -= n
        return n

profile, size, mode = PROFILES[sys.argv[2]], int(sys.argv[3]), sys.argv[4]
def high_water():  # VmHWM: this process's own peak (ru_maxrss also keeps the pre-exec peak)
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

if mode == "rss":
    source = Generated(size)
    try:  # reset the high-water mark to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass  # then the figure is an upper bound (the peak may predate the import)
    with open("/proc/self/statm") as statm:  # resident pages now
        before = int(statm.read().split()[1]) * resource.getpagesize()
    start = time.perf_counter()
    result = import_stream(source, profile=profile)
    seconds = time.perf_counter() - start
    growth = high_water() - before
else:
    tracemalloc.start()
    start = time.perf_counter()
    result = import_stream(Generated(size), profile=profile)
    seconds = time.perf_counter() - start
    growth = tracemalloc.get_traced_memory()[1]
print(json.dumps({"cid": str(result.cid), "bytes": result.size, "growth": growth,
                  "seconds": seconds}))
"""


def stream_memory(size: int) -> dict[str, object]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    out: dict[str, object] = {}
    for name in PROFILES:
        figures = {}
        for mode in ("rss", "tracemalloc"):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, src, name, str(size), mode],
                check=True,
                capture_output=True,
                text=True,
            )
            figures[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        out[name] = {
            "cid": figures["rss"]["cid"],
            "rss_growth_mib": figures["rss"]["growth"] / 2**20,
            "tracemalloc_peak_mib": figures["tracemalloc"]["growth"] / 2**20,
            "gb_per_s": size / figures["rss"]["seconds"] / 1e9,
        }
    return {"bytes": size, "profiles": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stream-gib", type=float, default=1.0)
    args = parser.parse_args()

    size = int(args.stream_gib * 2**30)
    memory = stream_memory(size)  # first: before this process holds the big buffer
    speed = throughput(args.size_mib * 2**20, args.rounds)
    gbps, ratios = speed["gb_per_s"], speed["ratio_to_sha256"]
    print(f"CID of a {args.size_mib} MiB buffer, best of {args.rounds} interleaved rounds")
    print(f"  {'hashlib.sha256':<16} {gbps['sha256']:6.2f} GB/s")  # type: ignore[index]
    ok = True
    for name in PROFILES:
        ratio = ratios[name]  # type: ignore[index]
        passed = ratio >= TARGETS[name]
        ok &= passed
        print(
            f"  {name:<16} {gbps[name]:6.2f} GB/s  ratio {ratio:5.3f}  "  # type: ignore[index]
            f"(target >= {TARGETS[name]:.2f}: {'ok' if passed else 'MISSED'})"
        )

    print(f"Streamed import of {size / 2**30:g} GiB generated on the fly (fresh subprocess each)")
    for name, fig in memory["profiles"].items():  # type: ignore[attr-defined]
        within = fig["rss_growth_mib"] < 64
        ok &= within
        print(
            f"  {name:<16} RSS peak growth {fig['rss_growth_mib']:6.1f} MiB, "
            f"tracemalloc peak {fig['tracemalloc_peak_mib']:5.2f} MiB, "
            f"{fig['gb_per_s']:.2f} GB/s  (limit 64 MiB: {'ok' if within else 'MISSED'})"
        )
    print(
        json.dumps(
            {"throughput": speed, "stream": memory, "targets": TARGETS, "all_targets_met": ok}
        )
    )


if __name__ == "__main__":
    main()
