"""Peak memory (resident set size) of a few ResNet-20 training steps, cnnkit against PyTorch.

    python -m benchmarks.memory                  # 3 alternating rounds, 2 threads, 3 steps
    python -m benchmarks.memory --json

Each measurement is a fresh Python process that imports one library, builds the model, the
optimizer and a fixed batch (``benchmarks.train``'s ResNet-20 case), then runs ``--steps``
SGD steps. The process reports two numbers, both from ``resource.getrusage(...).ru_maxrss``:

- ``peak``: the whole process's peak RSS, what the operating system has to provide. It
  includes the imported libraries themselves, which for PyTorch are a few hundred MiB.
- ``training``: the growth of that peak during the training steps over the RSS after setup,
  i.e. activations, gradients and workspaces, without the library's own size.

The sides alternate over the rounds; the table gives the lowest value of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence

from benchmarks._runner import ROOT, SIDES

CASE = "train step resnet20 b128 3x32^2"


def _max_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux (bytes on macOS)
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(side: str, threads: int, steps: int) -> dict[str, int]:
    """In this process: {'peak': peak RSS bytes, 'training': growth during ``steps`` steps}."""
    from benchmarks import train

    step = train.build(CASE, side, threads)
    after_setup = _current_rss_bytes() if sys.platform.startswith("linux") else _max_rss_bytes()
    for _ in range(steps):
        step()
    peak = _max_rss_bytes()
    return {"peak": peak, "training": max(0, peak - after_setup)}


def run_side(side: str, threads: int, steps: int) -> dict[str, int]:
    """``measure`` in a fresh Python process, so that nothing else inflates the peak."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "benchmarks.memory", "--child", side, str(threads), str(steps)]
    completed = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{side} memory process failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_memory(
    *, rounds: int = 3, threads: int = 2, steps: int = 3, progress: bool = True
) -> dict[str, dict[str, int]]:
    """{side: {'peak': bytes, 'training': bytes}}, lowest of ``rounds`` alternating rounds."""
    lowest: dict[str, dict[str, int]] = {side: {} for side in SIDES}
    for round_index in range(rounds):
        order = SIDES if round_index % 2 == 0 else tuple(reversed(SIDES))
        for side in order:
            if progress:
                print(f"memory round {round_index + 1}/{rounds}: {side}", file=sys.stderr)
            for key, value in run_side(side, threads, steps).items():
                lowest[side][key] = min(lowest[side].get(key, value), value)
    return lowest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides")
    parser.add_argument("--steps", type=int, default=3, help="training steps per process")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    result = run_memory(rounds=args.rounds, threads=args.threads, steps=args.steps)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ours, theirs = SIDES
    print(f"{'ResNet-20 b128 training':<28} {ours + ' MiB':>11} {theirs + ' MiB':>11} {'ratio':>7}")
    for key in ("peak", "training"):
        a, b = result[ours][key], result[theirs][key]
        print(f"{key:<28} {a / 2**20:>11.1f} {b / 2**20:>11.1f} {a / b:>7.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        side, threads, steps = sys.argv[2:5]
        print(json.dumps(measure(side, int(threads), int(steps))))
    else:
        sys.exit(main())
