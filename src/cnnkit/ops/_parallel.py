"""How many threads cnnkit's kernels and the BLAS under NumPy may use, and the shared pool.

The convolution kernels split their work into a few large parts and run them on a shared
thread pool, each part calling BLAS at one thread: NumPy releases the GIL inside matmul and
copies, so the parts really run in parallel, and one thread per core avoids the
oversubscription of ``workers x BLAS threads``.

Small GEMMs (``small_gemm_blas``) also run with BLAS at one thread: OpenBLAS splits even a
(64, 120) @ (120, 84) product over all its threads, and on a busy machine waiting for the
second thread to be scheduled costs 10-1000x the product itself (docs/performance.md). So do
memory-bound products (``single_threaded_blas``: bias gradients, interpolation matrices): after
a call on several threads, OpenBLAS's workers spin for about 0.1 s (its THREAD_TIMEOUT of 2^28
cycles) before sleeping, and a spinning worker takes a core from cnnkit's own threads in the
operations that follow.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import ThreadpoolController

Item = TypeVar("Item")
Result = TypeVar("Result")

_num_threads = os.cpu_count() or 1
_controller = ThreadpoolController()  # scans the loaded BLAS libraries once, not per call
# Setting the thread count through each library's own controller costs ~3 us a pair;
# ``_controller.limit(...)`` rescans and costs ~30 us, too much for every small GEMM.
_blas_libraries = [library for library in _controller.lib_controllers if library.user_api == "blas"]
_pool: ThreadPoolExecutor | None = None
_blas_lock = threading.Lock()
_blas_users = 0  # callers in flight (from any thread) that need BLAS at one thread
_blas_saved: list[int] = []  # the libraries' thread counts before the first of them came in
SMALL_GEMM_FLOPS = 1 << 23  # below ~8 MFLOP a second BLAS thread saves little, risks much


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
    with _SINGLE_THREADED_BLAS:
        futures = [_pool.submit(function, item) for item in items[1:]]
        results = [function(items[0])]
        results.extend(future.result() for future in futures)
    return results


class _SingleThreadedBlas:
    """BLAS at one thread while any caller, from any thread, is inside; restored after the last.

    A plain nested ``threadpool_limits`` from two threads at once could restore in the wrong
    order and leave BLAS at one thread for good. A class rather than a generator-based context
    manager: it is entered for every small GEMM, and this costs a third as much.
    """

    def __enter__(self) -> None:
        global _blas_users, _blas_saved
        with _blas_lock:
            if _blas_users == 0:
                _blas_saved = [library.num_threads for library in _blas_libraries]
                for library in _blas_libraries:
                    library.set_num_threads(1)
            _blas_users += 1

    def __exit__(self, *exc_info: object) -> None:
        global _blas_users
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for library, threads in zip(_blas_libraries, _blas_saved, strict=True):
                    library.set_num_threads(threads)


_SINGLE_THREADED_BLAS = _SingleThreadedBlas()
_UNCHANGED_BLAS = contextlib.nullcontext()


def single_threaded_blas() -> contextlib.AbstractContextManager[None]:
    """A context holding BLAS at one thread (when cnnkit uses more than one).

    For products bound by memory, not arithmetic, a second BLAS thread gains little, and its
    spinning afterwards (see the module docstring) costs the next operations far more.
    """
    return _SINGLE_THREADED_BLAS if _num_threads > 1 else _UNCHANGED_BLAS


def small_gemm_blas(flops: float) -> contextlib.AbstractContextManager[None]:
    """A context to run a GEMM of ``flops`` in: BLAS at one thread if it is small.

    Below ``SMALL_GEMM_FLOPS`` (or with one thread anyway) a second BLAS thread would gain a
    few microseconds at best and wait milliseconds for a busy core at worst.
    """
    return single_threaded_blas() if flops < SMALL_GEMM_FLOPS else _UNCHANGED_BLAS
