"""Page faults and wall time of ResNet-20 b128 training steps, with freed memory kept or returned.

    python -m benchmarks.page_faults             # 3 alternating rounds of each setting
    python -m benchmarks.page_faults --threads 1

cnnkit keeps freed memory in the process (``cnnkit._memory``); ``CNNKIT_KEEP_FREED_MEMORY=0``
gives it back to the kernel as glibc does by default. Each round runs both settings in fresh
processes, alternating, on ``benchmarks.train``'s ResNet-20 step; the table gives each
setting's best step time, the minor page faults of its last step and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks._runner import ROOT
from benchmarks.memory import CASE

WARM_UP_STEPS = 2  # the first steps fault their memory in whichever the setting


def measure(threads: int, steps: int) -> dict[str, float]:
    """In this process: best step ms after the warm-up, faults of the last step, peak MiB."""
    from benchmarks import train

    step = train.build(CASE, "cnnkit", threads)
    best, faults = float("inf"), 0
    for index in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        step()
        elapsed = time.perf_counter() - start
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        if index >= WARM_UP_STEPS:
            best = min(best, elapsed)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"ms": best * 1000, "faults": faults, "peak_mib": peak}


def run_setting(keep: str, threads: int, steps: int) -> dict[str, float]:
    """``measure`` in a fresh process with ``CNNKIT_KEEP_FREED_MEMORY=keep``."""
    env = {**os.environ, "CNNKIT_KEEP_FREED_MEMORY": keep}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "benchmarks.page_faults", "--child", str(threads), str(steps)]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        print(json.dumps(measure(int(sys.argv[2]), int(sys.argv[3]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.page_faults", description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5, help="steps per process, 2 warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, float]]] = {"kept": [], "returned": []}
    for _ in range(args.rounds):
        for setting, keep in (("returned", "0"), ("kept", "1")):
            results[setting].append(run_setting(keep, args.threads, args.steps))
    print(f"{CASE}, {args.threads} threads, best of {args.rounds} processes")
    print(f"{'freed memory':<14}{'step ms':>10}{'faults':>10}{'peak MiB':>10}")
    for setting, rows in results.items():
        best = min(rows, key=lambda row: row["ms"])
        print(f"{setting:<14}{best['ms']:>10.0f}{best['faults']:>10}{best['peak_mib']:>10.0f}")
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
