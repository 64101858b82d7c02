"""Batch, group and layer normalisation: forward and backward side by side.

Each is one op with a hand-written backward (no graph of small ops). With x̂ = (x - mean) /
sqrt(var + eps) over a normalisation set of n elements and dx̂ = dy * weight, the input gradient
of all three is the same expression:

    dx = (dx̂ - mean(dx̂) - x̂ * mean(dx̂ * x̂)) / sqrt(var + eps)

taken per channel over (N, *) for batch norm, per (sample, group) for group norm and per
sample over the trailing dimensions for layer norm.
"""

from __future__ import annotations

import numpy as np

from cnnkit.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm"]


def _normalize_last_axis(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x̂, 1/sqrt(var + eps)) over the last axis, with the biased variance."""
    centered = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    centered *= inv_std
    return centered, inv_std


def _normalize_last_axis_backward(
    grad_normalized: np.ndarray, normalized: np.ndarray, inv_std: np.ndarray
) -> np.ndarray:
    mean_grad = grad_normalized.mean(axis=-1, keepdims=True)
    mean_grad_dot = np.mean(grad_normalized * normalized, axis=-1, keepdims=True)
    return (grad_normalized - mean_grad - normalized * mean_grad_dot) * inv_std


def _affine_grads(
    grad_rows: np.ndarray,
    normalized_rows: np.ndarray,
    weight: Tensor | None,
    bias: Tensor | None,
    axes: tuple[int, ...],
) -> tuple[np.ndarray | None, np.ndarray | None]:
    grad_weight = grad_bias = None
    if weight is not None and weight.requires_grad:
        grad_weight = (grad_rows * normalized_rows).sum(axis=axes).reshape(weight.shape)
    if bias is not None and bias.requires_grad:
        grad_bias = grad_rows.sum(axis=axes).reshape(bias.shape)
    return grad_weight, grad_bias


def _with_affine(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> tuple[Tensor, ...]:
    return (input,) + tuple(t for t in (weight, bias) if t is not None)


def _grads_for(parents: tuple[Tensor, ...], grads: dict[int, np.ndarray | None]) -> tuple:
    return tuple(grads.get(id(p)) for p in parents)


def batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    """Normalise each channel of (N, C, *) input over (N, *).

    Training: batch statistics, and the running ones (if given) are updated in place with
    ``(1 - momentum) * running + momentum * batch`` (unbiased variance). Evaluation: the
    running statistics.
    """
    batch, channels = input.shape[:2]
    x = input.data.reshape(batch, channels, -1)
    count = x.shape[0] * x.shape[2]
    gamma = np.ones(channels, input.dtype) if weight is None else weight.data
    beta = np.zeros(channels, input.dtype) if bias is None else bias.data

    if training:
        mean = x.mean(axis=(0, 2))
        normalized = x - mean[:, None]
        var = np.mean(normalized * normalized, axis=(0, 2))
        inv_std = 1.0 / np.sqrt(var + eps)
        normalized *= inv_std[:, None]
        out = normalized * gamma[:, None] + beta[:, None]
        if running_mean is not None and running_var is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        scale = gamma * inv_std
        out = x * scale[:, None] + (beta - running_mean * scale)[:, None]
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        grad_rows = grad.reshape(x.shape)
        normalized_rows = normalized if training else (x - running_mean[:, None]) * inv_std[:, None]
        grads: dict[int, np.ndarray | None] = {}
        grads[id(weight)], grads[id(bias)] = _affine_grads(
            grad_rows, normalized_rows, weight, bias, (0, 2)
        )
        if input.requires_grad:
            scale = (gamma * inv_std)[:, None]
            if training:
                mean_grad = grad_rows.mean(axis=(0, 2))[:, None]
                mean_grad_dot = np.mean(grad_rows * normalized_rows, axis=(0, 2))[:, None]
                grad_input = (grad_rows - mean_grad - normalized_rows * mean_grad_dot) * scale
            else:
                grad_input = grad_rows * scale
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Normalise each group of C/num_groups channels of each sample of (N, C, *) input."""
    batch, channels = input.shape[:2]
    grouped = input.data.reshape(batch, num_groups, -1)
    normalized, inv_std = _normalize_last_axis(grouped, eps)
    per_channel = normalized.reshape(batch, channels, -1)
    out = per_channel
    if weight is not None:
        out = out * weight.data[:, None]
    if bias is not None:
        out = out + bias.data[:, None]
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        grad_rows = grad.reshape(per_channel.shape)
        grads: dict[int, np.ndarray | None] = {}
        grads[id(weight)], grads[id(bias)] = _affine_grads(
            grad_rows, per_channel, weight, bias, (0, 2)
        )
        if input.requires_grad:
            grad_normalized = grad_rows if weight is None else grad_rows * weight.data[:, None]
            grad_input = _normalize_last_axis_backward(
                grad_normalized.reshape(grouped.shape), normalized, inv_std
            )
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)


def layer_norm(
    input: Tensor,
    normalized_shape: tuple[int, ...],
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Tensor:
    """Normalise each sample over its trailing ``normalized_shape`` dimensions."""
    features = int(np.prod(normalized_shape))
    rows = input.data.reshape(-1, features)
    normalized, inv_std = _normalize_last_axis(rows, eps)
    out = normalized
    if weight is not None:
        out = out * weight.data.reshape(-1)
    if bias is not None:
        out = out + bias.data.reshape(-1)
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        grad_rows = grad.reshape(rows.shape)
        grads: dict[int, np.ndarray | None] = {}
        grads[id(weight)], grads[id(bias)] = _affine_grads(
            grad_rows, normalized, weight, bias, (0,)
        )
        if input.requires_grad:
            grad_normalized = grad_rows if weight is None else grad_rows * weight.data.reshape(-1)
            grad_input = _normalize_last_axis_backward(grad_normalized, normalized, inv_std)
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)
