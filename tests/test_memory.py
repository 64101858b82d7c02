"""cnnkit keeps freed array memory in the process (glibc mallopt at import), unless told not to."""

import subprocess
import sys

from cnnkit._memory import keep_freed_memory

# Allocate and free a 64 MiB array repeatedly: with the memory kept, only the first round
# page-faults it in.
SCRIPT = """
import resource
import numpy as np
import cnnkit
for round in range(4):
    if round == 1:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(16 * 2**20, dtype=np.float32)
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""


def _faults_after_first_round(keep: str) -> int:
    env = {"CNNKIT_KEEP_FREED_MEMORY": keep, "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    return int(done.stdout.strip())


def test_keep_freed_memory_is_set_on_glibc_and_can_be_turned_off(monkeypatch):
    glibc = sys.platform.startswith("linux")
    assert keep_freed_memory() is glibc
    monkeypatch.setenv("CNNKIT_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False


def test_freed_arrays_are_reused_without_page_faults():
    if not sys.platform.startswith("linux"):  # nothing to measure: mallopt is glibc's
        assert keep_freed_memory() is False
        return
    # Without it each later round faults its 64 MiB in again: at least once per 2 MiB (huge)
    # page, 16 times as often with 4 KiB pages.
    huge_pages = 64 // 2
    assert _faults_after_first_round("0") >= 3 * huge_pages
    assert _faults_after_first_round("1") < huge_pages // 2
