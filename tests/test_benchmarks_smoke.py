"""Benchmark scripts run end to end on tiny inputs (their --smoke mode), so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: scripts with a --smoke mode; the others are listed in the next session's note (issue 19)
SMOKE = ["cli_latency.py"]


@pytest.mark.parametrize("script", SMOKE)
def test_benchmark_smoke_mode_runs(script):
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| decode checkerboard |" in out.stdout
