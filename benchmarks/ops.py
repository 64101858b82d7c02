"""conv2d forward and forward+backward, cnnkit against PyTorch at the same thread count.

    python -m benchmarks.ops                 # all cases, 3 alternating rounds, 2 threads
    python -m benchmarks.ops "3x3 p1" --rounds 5 --json

Each side runs in its own fresh process (see ``benchmarks._runner``); the table gives the best
time of each side, the ratio cnnkit / torch (below 1 means cnnkit is faster) and the
geometric mean of the ratios. Forward runs without building a graph (``no_grad``), as in
inference; forward+backward computes the gradients of input, weight and bias.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from benchmarks._runner import main


class ConvShape(NamedTuple):
    batch: int
    in_channels: int
    out_channels: int
    size: int
    kernel: int
    stride: int = 1
    padding: int = 0
    groups: int = 1

    def label(self) -> str:
        text = (
            f"N{self.batch} C{self.in_channels}->{self.out_channels} {self.size}^2 "
            f"{self.kernel}x{self.kernel}"
        )
        text += f" s{self.stride}" if self.stride != 1 else ""
        text += f" p{self.padding}" if self.padding else ""
        return text + (" depthwise" if self.groups == self.in_channels > 1 else "")


SHAPES = [
    ConvShape(64, 1, 6, 28, 5),
    ConvShape(128, 3, 64, 32, 3, padding=1),
    ConvShape(128, 64, 64, 32, 3, padding=1),
    ConvShape(64, 128, 256, 16, 3, stride=2, padding=1),
    ConvShape(32, 256, 256, 8, 3, padding=1),
    ConvShape(64, 256, 64, 16, 1),
    ConvShape(64, 128, 128, 32, 3, padding=1, groups=128),
]
PASSES = ("fwd", "fwd+bwd")
CASES = [f"conv2d {kind} {shape.label()}" for shape in SHAPES for kind in PASSES]


def _parse(case: str) -> tuple[ConvShape, str]:
    for shape in SHAPES:
        for kind in PASSES:
            if case == f"conv2d {kind} {shape.label()}":
                return shape, kind
    raise KeyError(f"unknown case {case!r}")


def _arrays(shape: ConvShape) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((shape.batch, shape.in_channels, shape.size, shape.size))
    w = rng.standard_normal(
        (shape.out_channels, shape.in_channels // shape.groups, shape.kernel, shape.kernel)
    )
    b = rng.standard_normal(shape.out_channels)
    return [a.astype(np.float32) for a in (x, w, b)]


def build(case: str, side: str, threads: int) -> Callable[[], object]:
    """A zero-argument callable running ``case`` on ``side`` ('cnnkit' or 'torch')."""
    shape, kind = _parse(case)
    arrays = _arrays(shape)
    kwargs = {"stride": shape.stride, "padding": shape.padding, "groups": shape.groups}
    if side == "torch":
        import torch
        import torch.nn.functional as torch_F

        torch.set_num_threads(threads)
        tensors = [torch.from_numpy(a).requires_grad_(kind != "fwd") for a in arrays]
        if kind == "fwd":

            def forward() -> object:
                with torch.no_grad():
                    return torch_F.conv2d(*tensors, **kwargs)

            return forward
        upstream = torch.ones_like(torch_F.conv2d(*tensors, **kwargs))

        def torch_step() -> object:
            for t in tensors:
                t.grad = None
            torch_F.conv2d(*tensors, **kwargs).backward(upstream)
            return tensors[1].grad

        return torch_step

    import cnnkit
    import cnnkit.nn.functional as F

    cnnkit.set_num_threads(threads)
    tensors = [cnnkit.Tensor(a, requires_grad=kind != "fwd") for a in arrays]
    if kind == "fwd":

        def forward() -> object:
            with cnnkit.no_grad():
                return F.conv2d(*tensors, **kwargs)

        return forward
    upstream = np.ones(F.conv2d(*tensors, **kwargs).shape, np.float32)

    def step() -> object:
        for t in tensors:
            t.grad = None
        F.conv2d(*tensors, **kwargs).backward(upstream)
        return tensors[1].grad

    return step


if __name__ == "__main__":
    raise SystemExit(main("benchmarks.ops", __doc__.splitlines()[0]))
