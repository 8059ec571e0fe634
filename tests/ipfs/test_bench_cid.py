"""The CID benchmark runs and ends with one JSON object (tiny sizes: a smoke test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cid.py"


def test_bench_cid_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--size-mib", "2", "--rounds", "1", "--stream-gib", "0.01"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures["throughput"]["ratio_to_sha256"]) == {
        "unixfs-v0-2015",
        "cid-version-1",
        "unixfs-v1-2025",
    }
    for profile in figures["stream"]["profiles"].values():
        assert profile["rss_growth_mib"] < 64
