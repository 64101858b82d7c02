"""Keep freed array memory in the process, so a training step does not page-fault it back in.

glibc gives large freed blocks straight back to the kernel (``munmap`` above its mmap threshold,
heap trimming above its trim threshold). A training step frees and re-allocates the same
activation-sized arrays every iteration, so each step faulted its memory in again: ~57,000
minor faults and 0.2-0.5 s of system time per ResNet-20 b128 step, 15-20 % of the step. With
arrays below 1 GiB taken from the heap and the heap never trimmed, the faults are gone; the
price is that the process keeps its peak memory instead of returning it between steps.

Linux/glibc only; elsewhere, or with ``CNNKIT_KEEP_FREED_MEMORY=0`` in the environment, nothing
changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 1 << 30
_TRIM_THRESHOLD_BYTES = 2**31 - 1


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds as described above; ``True`` if they were set."""
    if not sys.platform.startswith("linux") or os.environ.get("CNNKIT_KEEP_FREED_MEMORY") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )
