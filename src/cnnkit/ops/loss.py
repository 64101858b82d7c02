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
from cnnkit.ops.elementwise import log_sigmoid_values
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


# --- helpers shared by the class losses ------------------------------------------------------
# The class losses work on an (N, C, S) view of the input, S = d1·…·dk (1 for (N, C) input),
# so no transposition is needed: the softmax reduces over axis 1 and per-position arrays
# (targets, weights, losses) are (N, S).
def _positions_view(x: np.ndarray) -> np.ndarray:
    """(N, C, d1..dk) → (N, C, S); unbatched (C,) → (1, C, 1)."""
    if x.ndim == 1:
        return x.reshape(1, -1, 1)
    return x.reshape(x.shape[0], x.shape[1], int(np.prod(x.shape[2:])))


def _softmax_classes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax over axis 1, in pieces: (shifted, log_total, probs).

    shifted = x - max (so exp never overflows), log_total = log Σ exp(shifted) (N, 1, S) and
    probs = softmax(x); log p = shifted - log_total. One exp pass serves loss and gradient.
    """
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(axis=1, keepdims=True)
    probs /= total
    return shifted, np.log(total), probs


def _index_weights(
    target: np.ndarray, weight: np.ndarray | None, ignore_index: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept mask, class index (ignored positions point at class 0), weight (0 if ignored)."""
    kept = target != ignore_index
    safe_target = np.where(kept, target, 0)
    if weight is None:
        return kept, safe_target, kept.astype(dtype)
    return kept, safe_target, np.where(kept, weight[safe_target], 0).astype(dtype)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where 0/0 gives nan quietly, as torch's mean over no targets."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def _reduce_positions(
    loss: np.ndarray, reduction: str, denominator: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """Reduce the (N, S) losses; ``'none'`` gives them back in ``shape``."""
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum(dtype=loss.dtype)
    return np.asarray(total if reduction == "sum" else _safe_divide(total, denominator))


def _position_upstream(
    grad: np.ndarray,
    reduction: str,
    denominator: np.ndarray,
    positions: tuple[int, int],
    kept: np.ndarray | None = None,
) -> np.ndarray:
    """d(reduced loss)/d(loss at each position), (N, S), exactly 0 at ignored positions.

    Zeroing ignored positions explicitly keeps them at 0 even when the mean's denominator is
    0 (torch's gradient for an all-ignored batch is 0 there, not nan).
    """
    if reduction == "none":
        upstream = grad.reshape(positions)
    else:
        scale = grad if reduction == "sum" else _safe_divide(grad, denominator)
        upstream = np.broadcast_to(scale, positions)
    if kept is not None:
        upstream = np.where(kept, upstream, 0).astype(grad.dtype, copy=False)
    return upstream


def _pick(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[n, index[n, s], s] for (N, C, S) values and (N, S) index."""
    return np.take_along_axis(values, index[:, None, :], axis=1)[:, 0, :]


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

    ``input`` (N, C, d1..dk) or (C,) logits, ``target`` (N, d1..dk) or () class indices. Per
    position: (1 - ε) w[t] (-log p_t) + ε/C Σ_c w_c (-log p_c), 0 where the target is
    ``ignore_index``; ``'mean'`` divides the sum by Σ w[t] over kept positions (nan if none
    are kept), like torch.
    """
    dtype = input.dtype
    shifted, log_total, probs = _softmax_classes(_positions_view(input.data))
    log_total = log_total[:, 0, :]
    batch, classes, size = probs.shape
    class_weight = None if weight is None else weight.astype(dtype)
    kept, safe_target, target_weight = _index_weights(
        target.reshape(batch, size), class_weight, ignore_index, dtype
    )
    target_log_prob = _pick(shifted, safe_target) - log_total
    loss = (1 - label_smoothing) * (target_weight * -target_log_prob)
    if label_smoothing > 0:
        # -Σ_c w_c log p_c = W log_total - Σ_c w_c shifted_c. The smoothing term drops only
        # ignored positions, even where a class weight is 0.
        if class_weight is None:
            smooth = classes * log_total - shifted.sum(axis=1)
        else:
            smooth = class_weight.sum(dtype=dtype) * log_total - class_weight @ shifted
        loss += (label_smoothing / classes) * np.where(kept, smooth, 0)
    denominator = target_weight.sum(dtype=dtype)
    out = _reduce_positions(loss.astype(dtype, copy=False), reduction, denominator, target.shape)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        upstream = _position_upstream(grad, reduction, denominator, (batch, size), kept)
        # d loss/d logits = a (p - onehot(t)) + b (W p - w), with a = (1 - ε) w[t] and
        # b = ε/C at kept positions, W = Σ w (C without weights).
        with np.errstate(invalid="ignore"):  # 0 · inf of a zero-weight mean is nan, as torch
            target_coef = ((1 - label_smoothing) * target_weight * upstream)[:, None, :]
            grad_input = probs * target_coef
            at_target = _pick(grad_input, safe_target)[:, None, :] - target_coef
            np.put_along_axis(grad_input, safe_target[:, None, :], at_target, axis=1)
            if label_smoothing > 0:
                smooth_coef = ((label_smoothing / classes) * upstream)[:, None, :]
                if class_weight is None:
                    grad_input += smooth_coef * (classes * probs - 1)
                else:
                    total_weight = class_weight.sum(dtype=dtype)
                    grad_input += smooth_coef * (total_weight * probs - class_weight[:, None])
        return (grad_input.astype(dtype, copy=False).reshape(input.shape),)

    return Tensor.from_op(out, (input,), backward)


def cross_entropy_probs(
    input: Tensor,
    target: Tensor,
    weight: np.ndarray | None,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """Softmax cross entropy with class-probability targets (same shape as ``input``).

    Per position: -Σ_c w_c y_c log p_c with y = (1 - ε) target + ε/C; ``'mean'`` divides by
    the number of positions (N·d1·…·dk), not by the weights, like torch. Differentiable in
    both inputs.
    """
    dtype = np.result_type(input.dtype, target.dtype)
    shifted, log_total, probs = _softmax_classes(_positions_view(input.data))
    log_probs = shifted - log_total
    batch, classes, size = probs.shape
    smoothed = _positions_view(target.data)
    if label_smoothing > 0:
        smoothed = smoothed * (1 - label_smoothing) + label_smoothing / classes
    class_weight = np.ones((classes, 1), dtype) if weight is None else weight.astype(dtype)[:, None]
    weighted_target = smoothed * class_weight
    loss = -(log_probs * weighted_target).sum(axis=1)
    denominator = np.asarray(batch * size, dtype=dtype)
    shape = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    out = _reduce_positions(loss.astype(dtype, copy=False), reduction, denominator, shape)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        upstream = _position_upstream(grad, reduction, denominator, (batch, size))[:, None, :]
        grad_input = grad_target = None
        if input.requires_grad:
            total_weight = weighted_target.sum(axis=1, keepdims=True)
            grad_input = (probs * total_weight - weighted_target) * upstream
            grad_input = grad_input.astype(input.dtype, copy=False).reshape(input.shape)
        if target.requires_grad:
            grad_target = -(1 - label_smoothing) * (log_probs * class_weight) * upstream
            grad_target = grad_target.astype(target.dtype, copy=False).reshape(target.shape)
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

    Per position: -w[t] input[t], 0 where the target is ``ignore_index``; ``'mean'`` divides
    by Σ w[t] over kept positions (nan if none are kept).
    """
    dtype = input.dtype
    log_probs = _positions_view(input.data)
    batch, _, size = log_probs.shape
    class_weight = None if weight is None else weight.astype(dtype)
    kept, safe_target, target_weight = _index_weights(
        target.reshape(batch, size), class_weight, ignore_index, dtype
    )
    loss = (-_pick(log_probs, safe_target) * target_weight).astype(dtype, copy=False)
    denominator = target_weight.sum(dtype=dtype)
    out = _reduce_positions(loss, reduction, denominator, target.shape)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        upstream = _position_upstream(grad, reduction, denominator, (batch, size), kept)
        grad_input = np.zeros_like(log_probs)
        with np.errstate(invalid="ignore"):  # 0 · inf of a zero-weight mean is nan, as torch
            at_target = (-target_weight * upstream)[:, None, :]
        np.put_along_axis(grad_input, safe_target[:, None, :], at_target, axis=1)
        return (grad_input.reshape(input.shape),)

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
    dtype = np.result_type(input.dtype, target.dtype)
    difference = input.data - target.data
    loss = loss_fn(difference).astype(dtype, copy=False)
    out = _reduce_elements(loss, reduction)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        local = grad_fn(difference) * _element_upstream(grad, reduction, difference.shape)
        grad_input = grad_target = None
        if input.requires_grad:
            grad_input = unbroadcast(local, input.shape).astype(input.dtype, copy=False)
        if target.requires_grad:
            grad_target = unbroadcast(-local, target.shape).astype(target.dtype, copy=False)
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
    out = _reduce_elements(loss.astype(np.result_type(x, y), copy=False), reduction)

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
                grad_target = (upstream * (np.log1p(-x) - np.log(x))).astype(y.dtype, copy=False)
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)


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
    log_sigmoid = log_sigmoid_values(x)
    positive_term = log_sigmoid if pos_weight is None else log_sigmoid * ((pos_weight - 1) * y + 1)
    loss = (1 - y) * x - positive_term
    if weight is not None:
        loss = loss * weight
    out = _reduce_elements(loss.astype(np.result_type(x, y), copy=False), reduction)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        upstream = _element_upstream(grad, reduction, x.shape)
        if weight is not None:
            upstream = upstream * weight
        grad_input = grad_target = None
        if input.requires_grad:
            sigmoid = np.exp(log_sigmoid)
            if pos_weight is None:
                local = sigmoid - y
            else:
                positive = pos_weight * y
                local = (positive + 1 - y) * sigmoid - positive
            grad_input = (upstream * local).astype(x.dtype, copy=False)
        if target.requires_grad:
            local = -x if pos_weight is None else log_sigmoid_values(-x) - log_sigmoid * pos_weight
            grad_target = (upstream * local).astype(y.dtype, copy=False)
        return grad_input, grad_target

    return Tensor.from_op(out, (input, target), backward)
