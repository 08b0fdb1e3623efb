"""Where sweep jobs run: in this process, a local process pool, or a Ray cluster.

All backends call the same pure job function and hand each job's records to ``sink`` in the
parent process as soon as the job finishes, so results are identical whichever runs them
(only the timings differ). Progress is a tqdm bar over jobs.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from tqdm import tqdm

from ncodec.errors import NcodecError
from ncodec.quiet import silence_known_warnings

BACKENDS = ("local", "ray")


def _bar(total: int, progress: bool) -> tqdm:
    return tqdm(total=total, unit="job", desc="sweep", disable=not progress or total == 0, dynamic_ncols=True)


def execute(fn: Callable[[Any], list[dict]], work: Sequence[Any], sink: Callable[[list[dict]], None], *,
            jobs: int = 1, backend: str = "local", progress: bool = True) -> None:
    """Run ``fn`` on every item of ``work`` and pass each result to ``sink`` (parent process)."""
    if backend not in BACKENDS:
        raise NcodecError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not work:
        return
    if backend == "ray":
        _execute_ray(fn, work, sink, progress)
    elif jobs <= 1:
        with _bar(len(work), progress) as bar:
            for w in work:
                sink(fn(w))
                bar.update(1)
    else:
        ctx = multiprocessing.get_context("spawn")  # no forked torch/FFmpeg thread state
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=silence_known_warnings) as pool, _bar(len(work), progress) as bar:
            pending = {pool.submit(fn, w) for w in work}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in finished:
                    sink(f.result())
                    bar.update(1)


def _execute_ray(fn, work, sink, progress: bool) -> None:
    try:
        import ray
    except ImportError:
        raise NcodecError("--backend ray needs Ray: pip install 'ncodec[ray]'") from None
    started = False
    if not ray.is_initialized():
        ray.init(address="auto" if _cluster_address() else None, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(fn)
        pending = [remote.remote(w) for w in work]
        with _bar(len(work), progress) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    sink(ray.get(ref))
                    bar.update(1)
    finally:
        if started:
            ray.shutdown()


def _cluster_address() -> bool:
    import os

    return bool(os.environ.get("RAY_ADDRESS"))
