"""Page faults and wall time of ResNet-20 b128 training steps, with freed memory kept or returned.

    python -m benchmarks.page_faults             # 3 alternating rounds of each setting
    python -m benchmarks.page_faults --threads 1

cnnkit keeps freed memory in the process (``cnnkit._memory``); ``CNNKIT_KEEP_FREED_MEMORY=0``
gives it back to the kernel as glibc does by default. Each round runs both settings in fresh
processes, alternating; the table gives each setting's best step time, the minor page faults of
its last step and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks._runner import ROOT

STEP_SCRIPT = """
import json, resource, sys, time
import numpy as np
import cnnkit
import cnnkit.nn.functional as F
from cnnkit import models, optim
cnnkit.set_num_threads(int(sys.argv[1]))
cnnkit.manual_seed(0)
model = models.get_model("resnet20", 10, 3)
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
images = cnnkit.Tensor(np.random.default_rng(0).random((128, 3, 32, 32), dtype=np.float32))
labels = np.random.default_rng(1).integers(0, 10, 128)
best, faults = float("inf"), 0
for step in range(int(sys.argv[2])):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    loss = F.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    elapsed = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    if step >= 2:  # the first steps fault their memory in either way
        best = min(best, elapsed)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": best * 1000, "faults": faults, "peak_mib": peak}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.page_faults")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[dict]] = {"kept": [], "returned": []}
    for _ in range(args.rounds):
        for setting, flag in (("returned", "0"), ("kept", "1")):
            env = {**os.environ, "CNNKIT_KEEP_FREED_MEMORY": flag}
            command = [sys.executable, "-c", STEP_SCRIPT, str(args.threads), str(args.steps)]
            done = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, check=True
            )
            results[setting].append(json.loads(done.stdout))
    print(f"ResNet-20 b128 SGD step, {args.threads} threads, best of {args.rounds} processes")
    print(f"{'freed memory':<14}{'step ms':>10}{'faults':>10}{'peak MiB':>10}")
    for setting, rows in results.items():
        best = min(rows, key=lambda row: row["ms"])
        print(f"{setting:<14}{best['ms']:>10.0f}{best['faults']:>10}{best['peak_mib']:>10.0f}")
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
