"""The functional API for loss functions (``torch.nn.functional`` names and semantics).

Arguments after the tensors (and ``weight``) are keyword-only: torch keeps two deprecated
positional arguments (``size_average``, ``reduce``) in front of them, so a positional call
written for torch would silently bind the wrong argument here; keyword-only makes it fail loudly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.nn._checks import check_floating, to_tensor
from cnnkit.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# --- argument checks ---------------------------------------------------------------------------
# The checks below are shared with the loss modules, which validate at construction.
def check_reduction(reduction: Any) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def check_label_smoothing(label_smoothing: float) -> None:
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")


def check_threshold(value: float, name: str, allow_zero: bool) -> None:
    """smooth_l1's ``beta`` may be 0 (it is then the L1 loss); huber's ``delta`` may not."""
    if value < 0 or (value == 0 and not allow_zero):
        requirement = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {requirement}, got {value}")


def _constant(value: Any, name: str, like: Tensor) -> np.ndarray | None:
    """A weight-like argument as an array of ``like``'s dtype (``None`` stays ``None``)."""
    if value is None:
        return None
    array = value.data if isinstance(value, Tensor) else np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a numeric tensor, got dtype={array.dtype}")
    return array.astype(like.dtype, copy=False)


def _class_weight(weight: Any, classes: int) -> np.ndarray | None:
    if weight is None:
        return None
    array = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if array.ndim != 1 or array.shape[0] != classes:
        raise ValueError(
            f"weight must be a 1-D tensor with one entry per class ({classes}), "
            f"got shape {tuple(array.shape)}"
        )
    return array


def _check_broadcasts_to(value: np.ndarray | None, shape: tuple[int, ...], name: str) -> None:
    if value is None:
        return
    try:
        grown = np.broadcast_shapes(value.shape, shape)
    except ValueError:
        grown = None
    if grown != shape:
        raise ValueError(
            f"{name} of shape {tuple(value.shape)} does not broadcast to the input shape {shape}"
        )


def _class_input(input: Any, what: str) -> Tensor:
    input = to_tensor(input)
    check_floating(input)
    if input.ndim == 0:
        raise ValueError(f"{what}: input must have a class dimension, got a 0-D tensor")
    return input


def _index_target(input: Tensor, target: Any, ignore_index: int, what: str) -> np.ndarray:
    """Class-index target of shape (N, d1..dk) (or () for unbatched input), checked."""
    array = target.data if isinstance(target, Tensor) else np.asarray(target)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{what}: target must hold class indices (an integer dtype) when its shape "
            f"{tuple(array.shape)} differs from the input's {input.shape}; got dtype={array.dtype}"
        )
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if array.shape != expected:
        raise ValueError(
            f"{what}: target shape {tuple(array.shape)} does not match input shape {input.shape}:"
            f" expected {expected} for class indices or {input.shape} for class probabilities"
        )
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    out_of_range = (array != ignore_index) & ((array < 0) | (array >= classes))
    if out_of_range.any():
        bad = int(array[out_of_range].reshape(-1)[0])
        raise IndexError(
            f"{what}: target {bad} is out of bounds for {classes} classes "
            f"(valid: 0..{classes - 1}, or ignore_index={ignore_index})"
        )
    return array.astype(np.int64, copy=False)


def _same_shape_target(input: Tensor, target: Any, what: str) -> Tensor:
    target = to_tensor(target, "target")
    if target.shape != input.shape:
        raise ValueError(
            f"{what}: target shape {target.shape} must be the same as input shape {input.shape}"
        )
    check_floating(target, "target")
    return target


def _regression_pair(input: Any, target: Any, what: str) -> tuple[Tensor, Tensor]:
    """Float input and target; a size mismatch broadcasts with torch's warning."""
    input, target = to_tensor(input), to_tensor(target, "target")
    check_floating(input)
    check_floating(target, "target")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(
                f"{what}: target shape {target.shape} does not broadcast with input shape "
                f"{input.shape}"
            ) from None
        warnings.warn(
            f"{what}: using a target size {target.shape} that is different to the input size "
            f"{input.shape}. This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )
    return input, target


# --- class losses ------------------------------------------------------------------------------
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy between the softmax of ``input`` logits and ``target``.

    ``target`` holds class indices (integer dtype) or class probabilities (floating, same shape
    as ``input``). With indices, rows whose target is ``ignore_index`` contribute nothing, and
    ``'mean'`` divides by the summed ``weight`` of the kept targets (nan when all are ignored),
    exactly as torch. ``label_smoothing`` ε mixes the target with the uniform distribution:
    (1 - ε) · target + ε / C.

    Args:
        input: logits, floating.
        target: class indices or class probabilities.
        weight: (C,) rescaling weight per class.
        ignore_index: target value that is skipped (class-index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: ε in [0, 1].

    Shape:
        input: (N, C), (N, C, d1, ..., dk) for per-pixel losses, or (C,) unbatched.
        target: (N,), (N, d1, ..., dk) or () of indices in [0, C); or the input's shape.
        output: scalar, or the target's index shape (N, d1, ..., dk) for ``'none'``.

    Example:
        >>> logits = cnnkit.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
        >>> loss = F.cross_entropy(logits, cnnkit.tensor([0]))
        >>> loss.backward()
    """
    input = _class_input(input, "cross_entropy")
    reduction = check_reduction(reduction)
    check_label_smoothing(label_smoothing)
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    class_weight = _class_weight(weight, classes)
    target_shape = target.shape if isinstance(target, Tensor) else np.shape(target)
    if tuple(target_shape) == input.shape:
        target = _same_shape_target(input, target, "cross_entropy")
        if ignore_index >= 0:
            raise ValueError(
                f"cross_entropy: ignore_index={ignore_index} is not supported with "
                "class-probability targets"
            )
        return ops.cross_entropy_probs(input, target, class_weight, reduction, label_smoothing)
    indices = _index_target(input, target, ignore_index, "cross_entropy")
    return ops.cross_entropy(
        input, indices, class_weight, ignore_index, reduction, float(label_smoothing)
    )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood loss of log-probabilities (e.g. from ``log_softmax``).

    Per target: -weight[t] · input[t]; targets equal to ``ignore_index`` contribute nothing and
    ``'mean'`` divides by the summed weight of the kept ones (nan when all are ignored).

    Args:
        input: log-probabilities, floating.
        target: class indices, integer dtype.
        weight: (C,) rescaling weight per class.
        ignore_index: target value that is skipped.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input: (N, C), (N, C, d1, ..., dk) or (C,).
        target: (N,), (N, d1, ..., dk) or ().
        output: scalar, or the target's shape for ``'none'``.

    Example:
        >>> loss = F.nll_loss(F.log_softmax(logits, dim=1), labels)
    """
    input = _class_input(input, "nll_loss")
    reduction = check_reduction(reduction)
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    class_weight = _class_weight(weight, classes)
    indices = _index_target(input, target, ignore_index, "nll_loss")
    return ops.nll_loss(input, indices, class_weight, ignore_index, reduction)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross entropy of probabilities: -w (y log x + (1 - y) log(1 - x)).

    The logs are clamped at -100 as in torch, so x = 0 or 1 gives a finite loss. Prefer
    ``binary_cross_entropy_with_logits`` on raw scores: it is stable for any logit.

    Args:
        input: probabilities in [0, 1].
        target: same shape as input, values usually in [0, 1].
        weight: rescaling weight, broadcast to the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        input: any shape. target: the input's shape. output: scalar, or the input's shape.

    Example:
        >>> loss = F.binary_cross_entropy(probs, labels)
    """
    input = to_tensor(input)
    check_floating(input)
    reduction = check_reduction(reduction)
    target = _same_shape_target(input, target, "binary_cross_entropy")
    if input.data.size and not (np.all(input.data >= 0) and np.all(input.data <= 1)):
        raise ValueError(
            "binary_cross_entropy: all elements of input should be between 0 and 1, got values "
            f"in [{input.data.min()}, {input.data.max()}]"
        )
    weight_array = _constant(weight, "weight", input)
    _check_broadcasts_to(weight_array, input.shape, "weight")
    return ops.binary_cross_entropy(input, target, weight_array, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid and binary cross entropy in one numerically stable step.

    loss = -w (p · y · log σ(x) + (1 - y) log(1 - σ(x))), finite for any logit x.

    Args:
        input: logits.
        target: same shape as input, values usually in [0, 1].
        weight: rescaling weight, broadcast to the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: weight p of positive examples, broadcast against the last dimension
            (e.g. one per class of a multi-label problem).

    Shape:
        input: any shape. target: the input's shape. output: scalar, or the input's shape.

    Example:
        >>> loss = F.binary_cross_entropy_with_logits(scores, labels, pos_weight=ratio)
    """
    input = to_tensor(input)
    check_floating(input)
    reduction = check_reduction(reduction)
    target = _same_shape_target(input, target, "binary_cross_entropy_with_logits")
    weight_array = _constant(weight, "weight", input)
    pos_weight_array = _constant(pos_weight, "pos_weight", input)
    _check_broadcasts_to(weight_array, input.shape, "weight")
    _check_broadcasts_to(pos_weight_array, input.shape, "pos_weight")
    return ops.binary_cross_entropy_with_logits(
        input, target, weight_array, reduction, pos_weight_array
    )


# --- regression losses -------------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean squared error: (input - target)².

    Args:
        input, target: floating tensors of the same shape (other shapes broadcast, with a
            warning, as in torch).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        output: scalar, or the broadcast shape for ``'none'``.

    Example:
        >>> loss = F.mse_loss(prediction, target)
    """
    reduction = check_reduction(reduction)
    input, target = _regression_pair(input, target, "mse_loss")
    return ops.mse_loss(input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean") -> Tensor:
    """Mean absolute error: |input - target|.

    Args:
        input, target: floating tensors of the same shape (other shapes broadcast, with a
            warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        output: scalar, or the broadcast shape for ``'none'``.

    Example:
        >>> loss = F.l1_loss(prediction, target)
    """
    reduction = check_reduction(reduction)
    input, target = _regression_pair(input, target, "l1_loss")
    return ops.l1_loss(input, target, reduction)


def smooth_l1_loss(
    input: Tensor, target: Tensor, *, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Smooth L1: 0.5 d² / β where |d| < β, else |d| - 0.5 β, with d = input - target.

    Args:
        input, target: floating tensors of the same shape (other shapes broadcast, with a
            warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: where the loss turns from quadratic to linear, >= 0 (0 gives the L1 loss).

    Shape:
        output: scalar, or the broadcast shape for ``'none'``.

    Example:
        >>> loss = F.smooth_l1_loss(boxes, target_boxes, beta=1 / 9)
    """
    reduction = check_reduction(reduction)
    check_threshold(beta, "beta", allow_zero=True)
    input, target = _regression_pair(input, target, "smooth_l1_loss")
    return ops.smooth_l1_loss(input, target, reduction, float(beta))


def huber_loss(
    input: Tensor, target: Tensor, *, reduction: str = "mean", delta: float = 1.0
) -> Tensor:
    """Huber loss: 0.5 d² where |d| < δ, else δ (|d| - 0.5 δ), with d = input - target.

    Args:
        input, target: floating tensors of the same shape (other shapes broadcast, with a
            warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: where the loss turns from quadratic to linear, > 0.

    Shape:
        output: scalar, or the broadcast shape for ``'none'``.

    Example:
        >>> loss = F.huber_loss(prediction, target, delta=0.5)
    """
    reduction = check_reduction(reduction)
    check_threshold(delta, "delta", allow_zero=False)
    input, target = _regression_pair(input, target, "huber_loss")
    return ops.huber_loss(input, target, reduction, float(delta))
