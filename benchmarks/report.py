"""All benchmarks in one table: each target of "as fast as PyTorch on a CPU", measured and judged.

    python -m benchmarks                       # every section, one table
    python -m benchmarks --sections train gemm --rounds 2
    python -m benchmarks --json                # the same numbers for machines

The sections reuse the cases of the benchmark modules (``benchmarks.train``, ``benchmarks.ops``,
``benchmarks.inference``, ``benchmarks.memory``) and their alternating subprocess runner
(``benchmarks._runner``: best against best). This module adds what only the report needs:

- the GEMM baseline: ``np.matmul`` of two large square float32 matrices (side ``cnnkit``, since
  that is the BLAS cnnkit runs on) and ``torch.mm`` (side ``torch``), in GFLOP/s. Dense 3x3
  convolutions are judged against NumPy's figure: a convolution built on GEMM can at best
  approach the GEMM rate of the machine.
- PyTorch training in ``channels_last`` memory format (side ``torch-channels-last``), usually
  PyTorch's fastest CPU layout for convolutions.

Ratios are oriented as the targets are written: throughput and GFLOP/s as cnnkit / reference
(higher is better), times and memory as cnnkit / PyTorch (lower is better).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from benchmarks import inference, memory, ops, train
from benchmarks._runner import describe_environment, geometric_mean, run_benchmark

GEMM_SIZE = 2048
GEMM_CASES = [f"gemm {GEMM_SIZE}^3 float32"]
CHANNELS_LAST = "torch-channels-last"
SECTIONS = ("train", "conv", "gemm", "inference", "memory")
TARGET_MODELS = ("lenet5", "vgg-small", "resnet20")  # training throughput targets of the issue


def build(case: str, side: str, threads: int) -> Callable[[], object]:
    """The runner's hook: GEMM cases; training cases, with PyTorch in channels_last as a third
    side (the others are ``benchmarks.train``'s own)."""
    if case in GEMM_CASES:
        return _gemm(side, threads)
    if side == CHANNELS_LAST:
        return _torch_channels_last_step(case, threads)
    return train.build(case, side, threads)


def _gemm(side: str, threads: int) -> Callable[[], object]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32) for _ in range(2))
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.mm(ta, tb)
    import cnnkit

    cnnkit.set_num_threads(threads)  # also limits NumPy's BLAS to ``threads``
    out = np.empty_like(a)
    return lambda: np.matmul(a, b, out=out)


def _torch_channels_last_step(label: str, threads: int) -> Callable[[], object]:
    """``benchmarks.train``'s PyTorch step with model and batch in channels_last layout."""
    import torch

    case = train._case(label)
    images, labels = train._batch(case)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    twin = train.torch_model(case).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.from_numpy(images).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(labels)

    def step() -> float:
        loss = torch.nn.functional.cross_entropy(twin(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# --- the table --------------------------------------------------------------------------------
class Row(NamedTuple):
    benchmark: str
    cnnkit: float
    reference: float
    unit: str
    ratio: float
    target: float
    higher_is_better: bool

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def as_dict(self) -> dict[str, object]:
        return {**self._asdict(), "met": self.met}


def _conv_flops(shape: ops.ConvShape) -> float:
    """Multiply-adds x 2 of one forward convolution (``shape``'s output size, no bias)."""
    out = (shape.size + 2 * shape.padding - shape.kernel) // shape.stride + 1
    per_output = 2 * (shape.in_channels // shape.groups) * shape.kernel**2
    return float(shape.batch * shape.out_channels * out * out * per_output)


DENSE_3X3 = [s for s in ops.SHAPES if s.kernel == 3 and s.groups == 1]


def _train_rows(best: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for case in train.TRAIN_CASES:
        label = case.label()
        ours = case.batch / best["cnnkit"][label]
        # The issue's targets are on the classification models; the U-Net row is information.
        judged = case.model in TARGET_MODELS
        rows.append(
            Row(
                f"{label} vs NCHW",
                ours,
                case.batch / best["torch"][label],
                "img/s",
                0.0,
                1.0 if judged else 0.0,
                True,
            )
        )
        if case.model != "lenet5" and label in best.get(CHANNELS_LAST, {}):
            rows.append(
                Row(
                    f"{label} vs channels_last",
                    ours,
                    case.batch / best[CHANNELS_LAST][label],
                    "img/s",
                    0.0,
                    0.8 if judged else 0.0,
                    True,
                )
            )
    return [row._replace(ratio=row.cnnkit / row.reference) for row in rows]


def _conv_rows(best: dict[str, dict[str, float]]) -> list[Row]:
    rows = []
    for kind in ops.PASSES:
        cases = [f"conv2d {kind} {shape.label()}" for shape in ops.SHAPES]
        ours = geometric_mean([best["cnnkit"][c] for c in cases]) * 1e3
        theirs = geometric_mean([best["torch"][c] for c in cases]) * 1e3
        ratio = geometric_mean([best["cnnkit"][c] / best["torch"][c] for c in cases])
        label = f"conv2d {kind}, {len(cases)}-shape sweep (geo. mean)"
        rows.append(Row(label, ours, theirs, "ms", ratio, 1.0, False))
    return rows


def _dense_rows(conv: dict[str, dict[str, float]], gemm: dict[str, dict[str, float]]) -> list[Row]:
    """Dense 3x3 conv GFLOP/s (geometric mean over the sweep's shapes) against NumPy's GEMM."""
    gemm_rate = 2 * GEMM_SIZE**3 / gemm["cnnkit"][GEMM_CASES[0]] / 1e9
    rows = []
    for kind, passes in (("fwd", 1), ("fwd+bwd", 3)):  # backward: two GEMMs of forward's size
        rates = [
            passes * _conv_flops(s) / conv["cnnkit"][f"conv2d {kind} {s.label()}"] / 1e9
            for s in DENSE_3X3
        ]
        ours = geometric_mean(rates)
        label = f"dense 3x3 conv {kind} GFLOP/s vs np.matmul ({len(rates)} shapes)"
        rows.append(Row(label, ours, gemm_rate, "GFLOP/s", ours / gemm_rate, 0.75, True))
    return rows


def _inference_rows(best: dict[str, dict[str, float]]) -> list[Row]:
    return [
        Row(
            case,
            best["cnnkit"][case] * 1e3,
            best["torch"][case] * 1e3,
            "ms",
            best["cnnkit"][case] / best["torch"][case],
            1.5,
            False,
        )
        for case in inference.CASES
    ]


def _memory_rows(result: dict[str, dict[str, int]]) -> list[Row]:
    rows = []
    for key, what in (("peak", "peak RSS"), ("training", "RSS growth in training")):
        ours, theirs = result["cnnkit"][key] / 2**20, result["torch"][key] / 2**20
        target = 1.0 if key == "peak" else math.inf  # the issue's target is on the peak
        rows.append(
            Row(
                f"resnet20 b128 training, {what}", ours, theirs, "MiB", ours / theirs, target, False
            )
        )
    return rows


def collect(
    sections: Sequence[str] = SECTIONS,
    *,
    rounds: int = 3,
    repeats: int = 3,
    threads: int = 2,
    progress: bool = True,
) -> dict[str, object]:
    """Run ``sections``; {'rows': [...], 'seconds': {section: {side: {case: s}}}, ...}."""
    load_before = os.getloadavg()
    timing = {"rounds": rounds, "repeats": repeats, "threads": threads, "progress": progress}
    seconds: dict[str, object] = {}
    rows: list[Row] = []
    if "train" in sections:
        best = run_benchmark(
            "benchmarks.report", train.CASES, **timing, sides=("cnnkit", "torch", CHANNELS_LAST)
        )
        seconds["train"] = best
        rows += _train_rows(best)
    if "conv" in sections or "gemm" in sections:
        # channels_last is only built for the training cases; the GEMM has cnnkit/torch sides
        gemm = run_benchmark("benchmarks.report", GEMM_CASES, **{**timing, "repeats": 5})
        seconds["gemm"] = gemm
        rate = {side: 2 * GEMM_SIZE**3 / gemm[side][GEMM_CASES[0]] / 1e9 for side in gemm}
        rows.append(
            Row(
                f"GEMM {GEMM_SIZE}^3 float32 GFLOP/s (np.matmul vs torch.mm)",
                rate["cnnkit"],
                rate["torch"],
                "GFLOP/s",
                rate["cnnkit"] / rate["torch"],
                0.0,
                True,
            )
        )
    if "conv" in sections:
        conv = run_benchmark("benchmarks.ops", ops.CASES, **timing)
        seconds["conv"] = conv
        rows += _conv_rows(conv)
        rows += _dense_rows(conv, seconds["gemm"])
    if "inference" in sections:
        best = run_benchmark("benchmarks.inference", inference.CASES, **{**timing, "repeats": 50})
        seconds["inference"] = best
        rows += _inference_rows(best)
    if "memory" in sections:
        result = memory.run_memory(rounds=rounds, threads=threads, progress=progress)
        seconds["memory_bytes"] = result
        rows += _memory_rows(result)
    return {
        "rows": [row.as_dict() for row in rows],
        "measurements": seconds,
        "threads": threads,
        "rounds": rounds,
        "environment": describe_environment(load_before),
    }


def format_report(report: dict[str, object]) -> str:
    """The one table: benchmark, cnnkit, PyTorch (or reference), ratio, target, met."""
    header = (
        f"{'benchmark':<58} {'cnnkit':>9} {'PyTorch/ref':>11} {'unit':>8} {'ratio':>6} "
        f"{'target':>7} {'met':>4}"
    )
    lines = [header, "-" * len(header)]
    for row in report["rows"]:
        if row["target"] == 0.0 or math.isinf(row["target"]):
            target, met = "info", ""
        else:
            target = (">= " if row["higher_is_better"] else "<= ") + f"{row['target']:.2f}"
            met = "yes" if row["met"] else "no"
        lines.append(
            f"{row['benchmark']:<58} {row['cnnkit']:>9.2f} {row['reference']:>11.2f} "
            f"{row['unit']:>8} {row['ratio']:>6.2f} {target:>7} {met:>4}"
        )
    env = report["environment"]
    lines.append(
        f"threads {report['threads']}, rounds {report['rounds']}, cores {env['cpu_count']}, "
        f"load average before/after {env['load_before']} / {env['load_after']}, "
        f"NumPy BLAS {env['blas']}"
    )
    return "\n".join(lines)
