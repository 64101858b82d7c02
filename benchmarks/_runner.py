"""Run benchmark cases for several sides (cnnkit, torch), each side in its own fresh process.

A benchmark module (``benchmarks.ops``, ``benchmarks.train``) defines

    CASES: list[str]                                      the case names, in table order
    build(case: str, side: str, threads: int) -> fn       a zero-argument callable to time
    items(case: str) -> float        (optional)           work per call, e.g. samples, to
                                                          print a throughput column

and calls ``main(module_name, description)`` from its ``__main__`` block. The parent process
alternates the sides over several rounds (cnnkit, torch, cnnkit, torch, ...), each round a new
process per side that times every case (best of ``--repeats`` calls, and of at least
``MIN_TIMED_SECONDS`` of calls, after a warm-up call), so
neither side profits from the other's caches or allocator state and slow phases of a shared
machine hit both. Best against best: the table shows each side's fastest time over all rounds,
the ratio cnnkit / torch per case, and the geometric mean of the ratios.

Child mode (internal): ``python -m benchmarks._runner --child MODULE SIDE THREADS REPEATS CASE...``
prints one JSON object {case: seconds}.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("cnnkit", "torch")


# Fast calls (batch-1 inference, ~0.4 ms) are timed for at least this long, however few
# repeats were asked for: the best of two sub-millisecond calls is mostly the noise of the
# first calls after a warm-up (cold caches, the second thread not yet scheduled).
MIN_TIMED_SECONDS = 0.25


def time_call(function: Callable[[], object], repeats: int) -> float:
    """Best wall time of at least ``repeats`` calls, and of calls for at least
    ``MIN_TIMED_SECONDS``, after one untimed warm-up call."""
    function()
    best = math.inf
    calls, started = 0, time.perf_counter()
    while calls < repeats or time.perf_counter() - started < MIN_TIMED_SECONDS:
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
        calls += 1
    return best


def run_child(
    module_name: str, side: str, threads: int, repeats: int, cases: Sequence[str]
) -> None:
    module = importlib.import_module(module_name)
    times = {case: time_call(module.build(case, side, threads), repeats) for case in cases}
    print(json.dumps(times))


def run_side(
    module_name: str, side: str, threads: int, repeats: int, cases: Sequence[str]
) -> dict[str, float]:
    """Time ``cases`` for ``side`` in a fresh Python process; {case: best seconds}."""
    env = dict(os.environ)
    # the worktree's own sources, not whatever cnnkit is installed
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    command = [
        sys.executable, "-m", "benchmarks._runner", "--child",
        module_name, side, str(threads), str(repeats), *cases,
    ]  # fmt: skip
    completed = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{side} benchmark process failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_benchmark(
    module_name: str,
    cases: Sequence[str],
    *,
    rounds: int = 3,
    repeats: int = 5,
    threads: int = 2,
    sides: Sequence[str] = SIDES,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """{side: {case: best seconds over all rounds}}, the sides alternating round by round."""
    best: dict[str, dict[str, float]] = {side: {} for side in sides}
    for round_index in range(rounds):
        order = sides if round_index % 2 == 0 else tuple(reversed(sides))
        for side in order:
            if progress:
                print(f"round {round_index + 1}/{rounds}: {side}", file=sys.stderr, flush=True)
            for case, seconds in run_side(module_name, side, threads, repeats, cases).items():
                best[side][case] = min(best[side].get(case, math.inf), seconds)
    return best


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def format_table(
    best: dict[str, dict[str, float]], cases: Sequence[str], items: Callable[[str], float] | None
) -> str:
    ours, theirs = SIDES
    header = f"{'case':<48} {ours + ' ms':>11} {theirs + ' ms':>11} {'ratio':>7}"
    if items is not None:
        header += f" {ours + ' /s':>12} {theirs + ' /s':>12}"
    lines = [header, "-" * len(header)]
    ratios = []
    for case in cases:
        a, b = best[ours][case], best[theirs][case]
        ratios.append(a / b)
        line = f"{case:<48} {a * 1e3:>11.2f} {b * 1e3:>11.2f} {a / b:>7.2f}"
        if items is not None:
            line += f" {items(case) / a:>12.1f} {items(case) / b:>12.1f}"
        lines.append(line)
    lines.append(
        f"{'geometric mean of ratios':<48} {'':>11} {'':>11} {geometric_mean(ratios):>7.2f}"
    )
    return "\n".join(lines)


def describe_environment(load_before: Sequence[float]) -> dict[str, object]:
    """Machine load around the run and the BLAS NumPy uses (library, kernel architecture)."""
    import numpy  # noqa: F401  (loads the BLAS that threadpool_info reports)
    from threadpoolctl import threadpool_info

    blas = [
        f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "blas": ", ".join(blas),
        "cpu_count": os.cpu_count(),
    }


def main(module_name: str, description: str, argv: Sequence[str] | None = None) -> int:
    """The command line of a benchmark module: choose cases, rounds, threads; print a table."""
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m {module_name}", description=description)
    parser.add_argument("cases", nargs="*", help="case names (default: all); substrings match")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per case per round")
    parser.add_argument("--threads", type=int, default=2, help="threads for both sides")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(module.CASES))
        return 0
    cases = [c for c in module.CASES if not args.cases or any(s in c for s in args.cases)]
    if not cases:
        parser.error(f"no case matches {args.cases}")
    load_before = os.getloadavg()
    best = run_benchmark(
        module_name, cases, rounds=args.rounds, repeats=args.repeats, threads=args.threads
    )
    environment = describe_environment(load_before)
    if args.json:
        ours, theirs = SIDES
        ratios = {case: best[ours][case] / best[theirs][case] for case in cases}
        report = {
            "threads": args.threads,
            "rounds": args.rounds,
            "seconds": best,
            "ratio": ratios,
            "geometric_mean_ratio": geometric_mean(list(ratios.values())),
            "environment": environment,
        }
        print(json.dumps(report, indent=2))
    else:
        print(format_table(best, cases, getattr(module, "items", None)))
        print(
            f"threads {args.threads}, rounds {args.rounds}, load average before/after "
            f"{environment['load_before']} / {environment['load_after']}, NumPy BLAS "
            f"{environment['blas']}"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        module_name, side, threads, repeats, *case_names = sys.argv[2:]
        run_child(module_name, side, int(threads), int(repeats), case_names)
    else:
        sys.exit("run a benchmark module instead, e.g. python -m benchmarks.ops")
