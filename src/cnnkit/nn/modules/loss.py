"""Loss layers (``torch.nn`` names): each holds its options and calls ``nn.functional``.

Class weights and ``pos_weight`` are registered as buffers, so they follow the module into
``state_dict()`` under torch's keys (``weight``, ``pos_weight``). As in ``nn.functional``, the
options are keyword-only after ``weight``: torch's deprecated ``size_average``/``reduce``
positions are not kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.nn._checks import to_tensor
from cnnkit.nn.functional import loss as F
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
]


def _buffer(value: Any, name: str) -> Tensor | None:
    if value is None:
        return None
    tensor = to_tensor(value, name)
    if not np.issubdtype(tensor.dtype, np.floating):
        tensor = Tensor(tensor.data.astype(np.float32))
    return tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F.check_reduction(reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight, "weight"))


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy of logits against class indices or class probabilities.

    See ``cnnkit.nn.functional.cross_entropy`` for the exact semantics.

    Args:
        weight: (C,) rescaling weight per class (a buffer).
        ignore_index: target value that is skipped (class-index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: ε in [0, 1].

    Shape:
        input: (N, C), (N, C, d1, ..., dk) or (C,).
        target: (N,), (N, d1, ..., dk) or () of class indices; or the input's shape.
        output: scalar, or (N, d1, ..., dk) for ``'none'``.

    Example:
        >>> criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> loss = criterion(model(images), labels)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        F.check_label_smoothing(label_smoothing)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(part for part in parts if part)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (use after ``LogSoftmax``).

    Args:
        weight: (C,) rescaling weight per class (a buffer).
        ignore_index: target value that is skipped.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input: (N, C), (N, C, d1, ..., dk) or (C,). target: (N,), (N, d1, ..., dk) or ().
        output: scalar, or the target's shape for ``'none'``.

    Example:
        >>> loss = nn.NLLLoss()(log_probs, labels)
    """

    def __init__(
        self, weight: Tensor | None = None, *, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.ignore_index != -100:
            parts.append(f"ignore_index={self.ignore_index}")
        return ", ".join(part for part in parts if part)


class MSELoss(_Loss):
    """Mean squared error, (input - target)².

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input, target: the same shape. output: scalar, or that shape for ``'none'``.

    Example:
        >>> loss = nn.MSELoss()(prediction, target)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, |input - target|.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input, target: the same shape. output: scalar, or that shape for ``'none'``.

    Example:
        >>> loss = nn.L1Loss()(prediction, target)
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1: quadratic below ``beta``, linear above.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: the threshold, >= 0.

    Shape:
        input, target: the same shape. output: scalar, or that shape for ``'none'``.

    Example:
        >>> loss = nn.SmoothL1Loss(beta=0.5)(boxes, target_boxes)
    """

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        F.check_threshold(beta, "beta", allow_zero=True)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return ", ".join(part for part in (super().extra_repr(), f"beta={self.beta}") if part)


class HuberLoss(_Loss):
    """Huber loss: quadratic below ``delta``, linear (slope ``delta``) above.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold, > 0.

    Shape:
        input, target: the same shape. output: scalar, or that shape for ``'none'``.

    Example:
        >>> loss = nn.HuberLoss(delta=2.0)(prediction, target)
    """

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        F.check_threshold(delta, "delta", allow_zero=False)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return ", ".join(part for part in (super().extra_repr(), f"delta={self.delta}") if part)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities (use after ``Sigmoid``; prefer
    ``BCEWithLogitsLoss`` on raw scores).

    Args:
        weight: rescaling weight broadcast to the input (a buffer).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input: any shape, values in [0, 1]. target: the input's shape.
        output: scalar, or the input's shape for ``'none'``.

    Example:
        >>> loss = nn.BCELoss()(probabilities, labels)
    """

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross entropy in one numerically stable step.

    Args:
        weight: rescaling weight broadcast to the input (a buffer).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: weight of positive examples, broadcast against the last dimension
            (a buffer).

    Shape:
        input: any shape. target: the input's shape.
        output: scalar, or the input's shape for ``'none'``.

    Example:
        >>> criterion = nn.BCEWithLogitsLoss(pos_weight=cnnkit.tensor([3.0, 1.0]))
        >>> loss = criterion(scores, labels)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        *,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _buffer(pos_weight, "pos_weight"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )
