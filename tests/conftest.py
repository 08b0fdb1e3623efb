"""Shared test helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def torchrun():
    """``torchrun(args, port_base)``: ``ncodec ARGS`` data-parallel in 2 processes (one thread each);
    the completed process is returned. Skips when torchrun is not installed."""
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if exe is None:
        pytest.skip("torchrun is not installed")

    def run(args: list[str], port_base: int) -> subprocess.CompletedProcess:
        cmd = [exe, "--nproc_per_node", "2", "--master_port", str(port_base + os.getpid() % 1000),
               "-m", "ncodec.cli.main", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              timeout=300)
    return run
