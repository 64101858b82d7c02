"""How many threads cnnkit's kernels and the BLAS under NumPy may use."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_limits

_num_threads = os.cpu_count() or 1
_blas_limit: threadpool_limits | None = None


def set_num_threads(num_threads: int) -> None:
    """Use ``num_threads`` threads for convolution kernels and BLAS (``torch.set_num_threads``)."""
    global _num_threads, _blas_limit
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
    _num_threads = num_threads
    _blas_limit = threadpool_limits(limits=num_threads, user_api="blas")


def get_num_threads() -> int:
    """The thread count set by ``set_num_threads`` (default: all CPU cores)."""
    return _num_threads
