"""Benchmark scripts run end to end on tiny inputs (their --smoke mode), so they cannot rot.

Every ``benchmarks/*.py`` is collected: a new script without a working ``--smoke`` fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py"))
#: a line each script's table must print, where one is worth pinning
EXPECTED = {"cli_latency.py": "| decode checkerboard |"}


def test_benchmarks_are_collected():
    assert "cli_latency.py" in SCRIPTS and len(SCRIPTS) > 10


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke_mode_runs(script, tmp_path):
    out = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)  # not the repository: no relative path may be relied on
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip(), f"{script} --smoke printed nothing"
    if script in EXPECTED:
        assert EXPECTED[script] in out.stdout
