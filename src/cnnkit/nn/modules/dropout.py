"""Dropout layers: active in training mode, the identity in evaluation mode."""

from __future__ import annotations

from cnnkit.nn import functional as F
from cnnkit.nn._checks import probability
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = probability(p)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """During training, zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Args:
        p: probability of an element to be zeroed. Default: 0.5.
        inplace: accepted for PyTorch compatibility; the output is always a new tensor.

    Shape:
        Any; output same as input.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """During training, zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """During training, zero whole channels of (N, C, H, W) input with probability ``p``.

    Shape:
        - Input: (N, C, H, W), or (N, C, L) as PyTorch 2.x accepts.
        - Output: same as input.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """During training, zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training)
