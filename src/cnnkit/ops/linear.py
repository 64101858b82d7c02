"""Affine map and dropout: forward and backward side by side."""

from __future__ import annotations

import numpy as np

from cnnkit.functions import get_generator
from cnnkit.ops._parallel import small_gemm_blas
from cnnkit.tensor import Tensor

__all__ = ["dropout", "dropout_channels", "linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over the last dimension, as one op (two GEMMs backward)."""
    in_features = weight.shape[1]
    out_features = weight.shape[0]
    rows = input.data.reshape(-1, in_features)
    flops = 2 * rows.shape[0] * in_features * out_features  # of each of the three GEMMs
    with small_gemm_blas(flops):
        out = rows @ weight.data.T
    if bias is not None:
        out += bias.data
    out_shape = input.shape[:-1] + (out_features,)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad_rows = grad.reshape(-1, out_features)
        with small_gemm_blas(flops):
            grad_input = grad_rows @ weight.data if input.requires_grad else None
            grad_weight = grad_rows.T @ rows if weight.requires_grad else None
        if grad_input is not None:
            grad_input = grad_input.reshape(input.shape)
        if bias is None:
            return grad_input, grad_weight
        return grad_input, grad_weight, grad_rows.sum(axis=0) if bias.requires_grad else None

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(out.reshape(out_shape), parents, backward)


def _masked(input: Tensor, keep: np.ndarray, p: float) -> Tensor:
    # Survivors are scaled by 1/(1-p) so the expected value is unchanged; p == 1 drops all.
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    scaled_mask = np.multiply(keep, scale, dtype=input.dtype)
    return Tensor.from_op(input.data * scaled_mask, (input,), lambda g: (g * scaled_mask,))


def dropout(input: Tensor, p: float) -> Tensor:
    """Zero each element with probability ``p``; survivors times 1/(1-p)."""
    keep = get_generator().random(input.shape, dtype=np.float32) >= p
    return _masked(input, keep, p)


def dropout_channels(input: Tensor, p: float) -> Tensor:
    """Zero whole channels of a (N, C, ...) input with probability ``p`` (dropout1d/2d/3d)."""
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    keep = get_generator().random(mask_shape, dtype=np.float32) >= p
    return _masked(input, keep, p)
