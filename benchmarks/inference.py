"""Batch-1 inference latency of LeNet-5 and ResNet-20, cnnkit against PyTorch.

    python -m benchmarks.inference               # 3 alternating rounds, 2 threads
    python -m benchmarks.inference resnet20 --threads 1 --rounds 5

One timed call is one forward pass of a single image in eval mode without autograd
(``no_grad``): the latency a user sees when classifying one image. At batch 1 the kernels are
tiny, so this measures the per-op overhead (Python, dispatch, allocation) more than arithmetic.
Each side runs in its own fresh process and the sides alternate (see ``benchmarks._runner``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from benchmarks._runner import main


class InferenceCase(NamedTuple):
    model: str
    size: int
    in_channels: int

    def label(self) -> str:
        return f"inference b1 {self.model} {self.in_channels}x{self.size}^2"


INFERENCE_CASES = [InferenceCase("lenet5", 28, 1), InferenceCase("resnet20", 32, 3)]
CASES = [case.label() for case in INFERENCE_CASES]


def _case(label: str) -> InferenceCase:
    for case in INFERENCE_CASES:
        if case.label() == label:
            return case
    raise KeyError(f"unknown case {label!r}")


def build(label: str, side: str, threads: int) -> Callable[[], object]:
    """A zero-argument callable classifying one image with ``label``'s model on ``side``."""
    case = _case(label)
    image = np.random.default_rng(0).standard_normal((1, case.in_channels, case.size, case.size))
    image = image.astype(np.float32)
    if side == "torch":
        import torch
        from tests.torch_twins import TWINS

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        twin = TWINS[case.model](10, case.in_channels).eval()
        x = torch.from_numpy(image)

        def torch_forward() -> object:
            with torch.no_grad():
                return twin(x)

        return torch_forward

    import cnnkit
    from cnnkit import models

    cnnkit.set_num_threads(threads)
    cnnkit.manual_seed(0)
    model = models.get_model(case.model, 10, case.in_channels).eval()
    x = cnnkit.Tensor(image)

    def cnnkit_forward() -> object:
        with cnnkit.no_grad():
            return model(x)

    return cnnkit_forward


if __name__ == "__main__":
    sys.exit(main("benchmarks.inference", __doc__.splitlines()[0]))
