"""Training throughput (images/s) of the bundled models, cnnkit against PyTorch.

    python -m benchmarks.train                  # all cases, 3 alternating rounds, 2 threads
    python -m benchmarks.train resnet20 --threads 1 --rounds 5

One timed call is one SGD step (momentum 0.9, weight decay 5e-4) on a fixed random batch:
forward in train mode, cross-entropy, backward, optimizer update. Each side runs in its own
fresh process, the sides alternate round by round, and the table compares the best times
(see ``benchmarks._runner``); the last columns are images per second.

``unet-segment`` is the semantic-segmentation U-Net of ``cnnkit train --task segment`` (16 base
channels, depth 3, multiscale class scores, 11 classes) with per-pixel cross-entropy on random
labels: its training budget is 30 minutes, so its step time decides how many epochs fit.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from benchmarks._runner import main


class TrainCase(NamedTuple):
    model: str
    batch: int
    size: int
    in_channels: int

    def label(self) -> str:
        return f"train step {self.model} b{self.batch} {self.in_channels}x{self.size}^2"


TRAIN_CASES = [
    TrainCase("lenet5", 64, 28, 1),
    TrainCase("vgg-small", 128, 32, 3),
    TrainCase("resnet20", 128, 32, 3),
    TrainCase("unet-segment", 16, 64, 1),
]
SEGMENT_CLASSES = 11  # background + 10 digits, as in the scene task
CASES = [case.label() for case in TRAIN_CASES]


def _case(label: str) -> TrainCase:
    for case in TRAIN_CASES:
        if case.label() == label:
            return case
    raise KeyError(f"unknown case {label!r}")


def items(label: str) -> float:
    """Images per timed call."""
    return float(_case(label).batch)


def _batch(case: TrainCase) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels: one class per image, or per pixel for the segmentation U-Net."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((case.batch, case.in_channels, case.size, case.size))
    if case.model == "unet-segment":
        labels = rng.integers(0, SEGMENT_CLASSES, (case.batch, case.size, case.size))
    else:
        labels = rng.integers(0, 10, case.batch)
    return images.astype(np.float32), labels


def torch_model(case: TrainCase) -> object:
    """The PyTorch twin of ``case``'s model (``tests.torch_twins``), in train mode."""
    from tests import torch_twins

    if case.model == "unet-segment":
        model = torch_twins.UNet(case.in_channels, SEGMENT_CLASSES, 16, 3, multiscale=True)
    else:
        model = torch_twins.TWINS[case.model](10, case.in_channels)
    return model.train()


def _cnnkit_model(case: TrainCase) -> object:
    from cnnkit import models

    if case.model == "unet-segment":
        model = models.UNet(case.in_channels, SEGMENT_CLASSES, 16, 3, multiscale=True)
    else:
        model = models.get_model(case.model, 10, case.in_channels)
    return model.train()


def build(label: str, side: str, threads: int) -> Callable[[], object]:
    """A zero-argument callable doing one training step of ``label`` on ``side``."""
    case = _case(label)
    images, labels = _batch(case)
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        twin = torch_model(case)
        optimizer = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x, y = torch.from_numpy(images), torch.from_numpy(labels)

        def torch_step() -> float:
            loss = torch.nn.functional.cross_entropy(twin(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.item()

        return torch_step

    import cnnkit
    from cnnkit import optim
    from cnnkit.nn import functional as F

    cnnkit.set_num_threads(threads)
    cnnkit.manual_seed(0)
    model = _cnnkit_model(case)
    sgd = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x, y = cnnkit.Tensor(images), cnnkit.Tensor(labels)

    def cnnkit_step() -> float:
        loss = F.cross_entropy(model(x), y)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        return loss.item()

    return cnnkit_step


if __name__ == "__main__":
    sys.exit(main("benchmarks.train", __doc__.splitlines()[0]))
