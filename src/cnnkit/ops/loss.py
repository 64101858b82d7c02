"""Fused loss kernels: forward and backward side by side.

Each loss is one op: the forward computes the per-element loss and its reduction in NumPy, and
``backward`` is the hand-derived gradient (no graph of tiny ops). Class weights and
``pos_weight`` are constants (NumPy arrays), not differentiated, as for a loss module's buffers.

``reduction`` is ``'none'`` (per-element losses), ``'mean'`` or ``'sum'``. The ops trust their
inputs; ``cnnkit.nn.functional`` checks them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnnkit.ops._util import unbroadcast
from cnnkit.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_probs",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

# torch clamps log(x) at -100 in binary_cross_entropy and its backward divides by
# max(x (1 - x), 1e-12), so a saturated probability gives a large but finite loss and gradient.
_BCE_LOG_FLOOR = -100.0
_BCE_GRAD_EPS = 1e-12


# --- helpers shared by the class-index losses ------------------------------------------------
def _classes_last(x: np.ndarray) -> np.ndarray:
    """(N, C, d1..dk) or (C,) → (M, C) with one row per sample/pixel."""
    if x.ndim == 1:
        return x[None, :]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``_classes_last`` for an array of the input's ``shape``."""
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = (shape[0], *shape[2:], shape[1])
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved), -1, 1))


def _log_softmax_rows(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _index_weights(
    target: np.ndarray, weight: np.ndarray | None, ignore_index: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row class index (ignored rows point at class 0) and per-row weight (0 if ignored)."""
    kept = target != ignore_index
    safe_target = np.where(kept, target, 0)
    if weight is None:
        return safe_target, kept.astype(dtype)
    return safe_target, np.where(kept, weight[safe_target], 0).astype(dtype)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where 0/0 gives nan quietly, as torch's mean over no targets."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def _reduce_rows(per_row: np.ndarray, reduction: str, denominator: np.ndarray) -> np.ndarray:
    if reduction == "none":
        return per_row
    total = per_row.sum(dtype=per_row.dtype)
    return np.asarray(total if reduction == "sum" else _safe_divide(total, denominator))


def _row_upstream(
    grad: np.ndarray,
    reduction: str,
    denominator: np.ndarray,
    rows: int,
    dtype: np.dtype,
    kept: np.ndarray | None = None,
) -> np.ndarray:
    """d(reduced loss)/d(per-row loss) as an (M, 1) column, exactly 0 on ignored rows.

    Zeroing ignored rows explicitly keeps them at 0 even when the mean's denominator is 0
    (torch's gradient for an all-ignored batch is 0 there, not nan).
    """
    if reduction == "none":
        column = grad.reshape(rows, 1)
    else:
        scale = grad if reduction == "sum" else _safe_divide(grad, denominator)
        column = np.full((rows, 1), scale, dtype=dtype)
    if kept is not None:
        column = np.where(kept[:, None], column, 0).astype(dtype, copy=False)
    return column


# --- cross entropy and negative log-likelihood ----------------------------------------------
def cross_entropy(
    input: Tensor,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """Softmax cross entropy with class-index targets, fused with its gradient.

    ``input`` (N, C, d1..dk) or (C,) logits, ``target`` (N, d1..dk) or () class indices. Per row:
    (1 - ε) w[t] (-log p_t) + ε/C Σ_c w_c (-log p_c), 0 where the target is ``ignore_index``;
    ``'mean'`` divides the sum by Σ w[t] over kept rows (nan if none are kept), like torch.
    """
    dtype = input.dtype
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    log_probs = _log_softmax_rows(_classes_last(input.data))
    rows = log_probs.shape[0]
    flat_target = target.reshape(-1)
    safe_target, row_weight = _index_weights(flat_target, weight, ignore_index, dtype)
    kept = flat_target != ignore_index
    picked = log_probs[np.arange(rows), safe_target]
    per_row = (1 - label_smoothing) * (row_weight * -picked)
    if label_smoothing > 0:
        # The smoothing term drops only ignored rows, even where a class weight is 0.
        smooth = -(log_probs @ weight.astype(dtype)) if weight is not None else -log_probs.sum(1)
        per_row = per_row + (label_smoothing / classes) * np.where(kept, smooth, 0)
    per_row = per_row.astype(dtype, copy=False)
    denominator = row_weight.sum(dtype=dtype)
    out = _reduce_rows(per_row, reduction, denominator)
    if reduction == "none":
        out = out.reshape(target.shape)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        upstream = _row_upstream(grad, reduction, denominator, rows, dtype, kept)
        probs = np.exp(log_probs)
        grad_rows = probs * ((1 - label_smoothing) * row_weight)[:, None]
        grad_rows[np.arange(rows), safe_target] -= (1 - label_smoothing) * row_weight
        if label_smoothing > 0:
            if weight is None:
                smooth_grad = classes * probs - 1
            else:
                class_weight = weight.astype(dtype)
                smooth_grad = class_weight.sum(dtype=dtype) * probs - class_weight
            grad_rows += (label_smoothing / classes) * kept[:, None] * smooth_grad
        with np.errstate(invalid="ignore"):  # 0 · inf of a zero-weight mean is nan, as torch
            grad_rows *= upstream
        return (_classes_back(grad_rows.astype(dtype, copy=False), input.shape),)

    return Tensor.from_op(out, (input,), backward)


def cross_entropy_probs(
    input: Tensor,
    target: Tensor,
    weight: np.ndarray | None,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """Softmax cross entropy with class-probability targets (same shape as ``input``).

    Per row: -Σ_c w_c y_c log p_c with y = (1 - ε) target + ε/C; ``'mean'`` divides by the number
    of rows (N·d1·…·dk), not by the weights, like torch. Differentiable in both inputs.
    """
    dtype = input.dtype
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    log_probs = _log_softmax_rows(_classes_last(input.data))
    rows = log_probs.shape[0]
    smoothed = _classes_last(target.data)
    if label_smoothing > 0:
        smoothed = smoothed * (1 - label_smoothing) + label_smoothing / classes
    class_weight = np.ones(classes, dtype) if weight is None else weight.astype(dtype)
    weighted_target = smoothed * class_weight
    per_row = -(log_probs * weighted_target).sum(axis=1)
    denominator = np.asarray(rows, dtype=dtype)
    out = _reduce_rows(per_row.astype(dtype, copy=False), reduction, denominator)
    if reduction == "none":
        out = out.reshape(input.shape[:1] + input.shape[2:] if input.ndim > 1 else ())

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        upstream = _row_upstream(grad, reduction, denominator, rows, dtype)
        grad_input = grad_target = None
        if input.requires_grad:
            total_weight = weighted_target.sum(axis=1, keepdims=True)
            grad_rows = (np.exp(log_probs) * total_weight - weighted_target) * upstream
            grad_input = _classes_back(grad_rows.astype(dtype, copy=False), input.shape)
        if target.requires_grad:
            grad_rows = -(1 - label_smoothing) * (log_probs * class_weight) * upstream
            grad_target = _classes_back(grad_rows.astype(dtype, copy=False), target.shape)
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)


def nll_loss(
    input: Tensor,
    target: np.ndarray,
    weight: np.ndarray | None,
    ignore_index: int,
    reduction: str,
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, d1..dk) or (C,).

    Per row: -w[t] input[t], 0 where the target is ``ignore_index``; ``'mean'`` divides by
    Σ w[t] over kept rows (nan if none are kept).
    """
    dtype = input.dtype
    rows_in = _classes_last(input.data)
    rows = rows_in.shape[0]
    flat_target = target.reshape(-1)
    safe_target, row_weight = _index_weights(flat_target, weight, ignore_index, dtype)
    kept = flat_target != ignore_index
    per_row = (-rows_in[np.arange(rows), safe_target] * row_weight).astype(dtype, copy=False)
    denominator = row_weight.sum(dtype=dtype)
    out = _reduce_rows(per_row, reduction, denominator)
    if reduction == "none":
        out = out.reshape(target.shape)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        upstream = _row_upstream(grad, reduction, denominator, rows, dtype, kept)
        grad_rows = np.zeros_like(rows_in)
        with np.errstate(invalid="ignore"):  # 0 · inf of a zero-weight mean is nan, as torch
            grad_rows[np.arange(rows), safe_target] = -row_weight * upstream[:, 0]
        return (_classes_back(grad_rows, input.shape),)

    return Tensor.from_op(out, (input,), backward)


# --- elementwise regression and binary losses -------------------------------------------------
def _reduce_elements(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.asarray(loss.size, dtype=loss.dtype))


def _element_upstream(grad: np.ndarray, reduction: str, shape: tuple[int, ...]) -> np.ndarray:
    """d(reduced loss)/d(elementwise loss), broadcast to ``shape``."""
    if reduction == "none":
        return grad
    if reduction == "mean":
        count = int(np.prod(shape))
        grad = grad / np.asarray(count, dtype=grad.dtype) if count else grad
    return np.broadcast_to(grad, shape)


def _pointwise_loss(
    input: Tensor,
    target: Tensor,
    reduction: str,
    loss_fn: Callable[[np.ndarray], np.ndarray],
    grad_fn: Callable[[np.ndarray], np.ndarray],
) -> Tensor:
    """A loss of the difference d = input - target: loss_fn(d), d loss/d d = grad_fn(d)."""
    difference = input.data - target.data
    loss = loss_fn(difference).astype(input.dtype, copy=False)
    out = _reduce_elements(loss, reduction)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        local = grad_fn(difference) * _element_upstream(grad, reduction, difference.shape)
        local = local.astype(input.dtype, copy=False)
        grad_input = unbroadcast(local, input.shape) if input.requires_grad else None
        grad_target = unbroadcast(-local, target.shape) if target.requires_grad else None
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)


def mse_loss(input: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Squared error (input - target)², broadcasting the two."""
    return _pointwise_loss(input, target, reduction, np.square, lambda d: 2 * d)


def l1_loss(input: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Absolute error |input - target|; its gradient at 0 is 0, as torch's sign."""
    return _pointwise_loss(input, target, reduction, np.abs, np.sign)


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str, beta: float) -> Tensor:
    """0.5 d²/β where |d| < β, else |d| - 0.5β (β = 0 is the L1 loss)."""
    if beta == 0:
        return l1_loss(input, target, reduction)

    def loss(d: np.ndarray) -> np.ndarray:
        size = np.abs(d)
        return np.where(size < beta, 0.5 * d * d / beta, size - 0.5 * beta)

    return _pointwise_loss(input, target, reduction, loss, lambda d: np.clip(d / beta, -1, 1))


def huber_loss(input: Tensor, target: Tensor, reduction: str, delta: float) -> Tensor:
    """0.5 d² where |d| < δ, else δ(|d| - 0.5δ) (δ times the smooth L1 loss with β = δ)."""

    def loss(d: np.ndarray) -> np.ndarray:
        size = np.abs(d)
        return np.where(size < delta, 0.5 * d * d, delta * (size - 0.5 * delta))

    return _pointwise_loss(input, target, reduction, loss, lambda d: np.clip(d, -delta, delta))


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: np.ndarray | None, reduction: str
) -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)) of probabilities x, logs clamped at -100 like torch."""
    x, y = input.data, target.data
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped right away
        log_x = np.maximum(np.log(x), _BCE_LOG_FLOOR)
        log_not_x = np.maximum(np.log1p(-x), _BCE_LOG_FLOOR)
    loss = (y - 1) * log_not_x - y * log_x
    if weight is not None:
        loss = loss * weight
    out = _reduce_elements(loss.astype(x.dtype, copy=False), reduction)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        upstream = _element_upstream(grad, reduction, x.shape)
        if weight is not None:
            upstream = upstream * weight
        grad_input = grad_target = None
        if input.requires_grad:
            grad_input = upstream * (x - y) / np.maximum((1 - x) * x, _BCE_GRAD_EPS)
            grad_input = grad_input.astype(x.dtype, copy=False)
        if target.requires_grad:
            with np.errstate(divide="ignore"):
                grad_target = (upstream * (np.log1p(-x) - np.log(x))).astype(x.dtype, copy=False)
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = min(x, 0) - log(1 + e^-|x|): no overflow for any x."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: np.ndarray | None,
    reduction: str,
    pos_weight: np.ndarray | None,
) -> Tensor:
    """Sigmoid + binary cross entropy in one stable step: (1 - y) x - (1 + (p - 1) y) log σ(x).

    ``pos_weight`` p (broadcast against the last dimension) scales the positive term.
    """
    x, y = input.data, target.data
    log_sigmoid = _log_sigmoid(x)
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * ((pos_weight - 1) * y + 1)
    loss = (1 - y) * x - log_sigmoid
    if weight is not None:
        loss = loss * weight
    out = _reduce_elements(loss.astype(x.dtype, copy=False), reduction)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        upstream = _element_upstream(grad, reduction, x.shape)
        if weight is not None:
            upstream = upstream * weight
        grad_input = grad_target = None
        if input.requires_grad:
            sigmoid = np.exp(_log_sigmoid(x))
            if pos_weight is None:
                local = sigmoid - y
            else:
                positive = pos_weight * y
                local = (positive + 1 - y) * sigmoid - positive
            grad_input = (upstream * local).astype(x.dtype, copy=False)
        if target.requires_grad:
            local = -x if pos_weight is None else _log_sigmoid(-x) - _log_sigmoid(x) * pos_weight
            grad_target = (upstream * local).astype(x.dtype, copy=False)
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)
