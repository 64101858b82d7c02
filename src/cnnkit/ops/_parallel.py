"""How many threads cnnkit's kernels and the BLAS under NumPy may use, and the shared pool.

The convolution kernels split their work into a few large parts and run them on a shared
thread pool, each part calling BLAS at one thread: NumPy releases the GIL inside matmul and
copies, so the parts really run in parallel, and one thread per core avoids the
oversubscription of ``workers x BLAS threads``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import ThreadpoolController

Item = TypeVar("Item")
Result = TypeVar("Result")

_num_threads = os.cpu_count() or 1
_controller = ThreadpoolController()  # scans the loaded BLAS libraries once, not per call
_pool: ThreadPoolExecutor | None = None
_blas_lock = threading.Lock()
_blas_users = 0  # parallel_map calls in flight (from any thread) that need BLAS at one thread
_blas_limiter: object = None


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
    with _single_threaded_blas():
        futures = [_pool.submit(function, item) for item in items[1:]]
        results = [function(items[0])]
        results.extend(future.result() for future in futures)
    return results


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS at one thread while any caller, from any thread, is inside; restored after the last.

    A plain nested ``threadpool_limits`` from two threads at once could restore in the wrong
    order and leave BLAS at one thread for good.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = _controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()  # type: ignore[attr-defined]
                _blas_limiter = None
