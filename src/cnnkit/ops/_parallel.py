"""How many threads cnnkit's kernels and the BLAS under NumPy may use, and the shared pool.

The convolution kernels split their work into a few large parts and run them on a shared
thread pool, each part calling BLAS at one thread: NumPy releases the GIL inside matmul and
copies, so the parts really run in parallel, and one thread per core avoids the
oversubscription of ``workers x BLAS threads``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import ThreadpoolController

Item = TypeVar("Item")
Result = TypeVar("Result")

_num_threads = os.cpu_count() or 1
_controller = ThreadpoolController()  # scans the loaded BLAS libraries once, not per call
_pool: ThreadPoolExecutor | None = None


def set_num_threads(num_threads: int) -> None:
    """Use ``num_threads`` threads for convolution kernels and BLAS (``torch.set_num_threads``)."""
    global _num_threads, _pool
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
    _num_threads = num_threads
    _controller.limit(limits=num_threads, user_api="blas")
    if _pool is not None:
        _pool.shutdown(wait=True)
        _pool = None


def get_num_threads() -> int:
    """The thread count set by ``set_num_threads`` (default: all CPU cores)."""
    return _num_threads


def parallel_map(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """``[function(item) for item in items]``, the items spread over ``get_num_threads()`` threads.

    Meant for a handful of large, independent parts (one per thread). The calling thread runs
    the first part itself; BLAS is held at one thread meanwhile so the parts do not compete.
    """
    if len(items) <= 1 or _num_threads == 1:
        return [function(item) for item in items]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_num_threads - 1, thread_name_prefix="cnnkit")
    with _controller.limit(limits=1, user_api="blas"):
        futures = [_pool.submit(function, item) for item in items[1:]]
        results = [function(items[0])]
        results.extend(future.result() for future in futures)
    return results
