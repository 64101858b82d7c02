"""Matrix product with NumPy's broadcasting rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.ops._parallel import small_gemm_blas
from cnnkit.ops._util import as_tensor, unbroadcast
from cnnkit.tensor import Tensor

__all__ = ["matmul"]


def matmul(a: Any, b: Any) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    left = a.data[None, :] if a_vector else a.data
    right = b.data[:, None] if b_vector else b.data
    # M*K*N times the larger batch: exact unless both sides broadcast
    batched_flops = 2 * max(left.size * right.shape[-1], right.size * left.shape[-2])
    with small_gemm_blas(batched_flops):
        out = left @ right
    matrix_shape = out.shape  # before squeezing away the vector dimensions
    flops = 2 * out.size * left.shape[-1]

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        full_grad = grad.reshape(matrix_shape)
        grad_a = grad_b = None
        with small_gemm_blas(flops):
            if a.requires_grad:
                grad_left = unbroadcast(full_grad @ np.swapaxes(right, -1, -2), left.shape)
                grad_a = grad_left.reshape(a.shape)
            if b.requires_grad:
                grad_right = unbroadcast(np.swapaxes(left, -1, -2) @ full_grad, right.shape)
                grad_b = grad_right.reshape(b.shape)
        return grad_a, grad_b

    if a_vector:
        out = out.squeeze(-2)
    if b_vector:
        out = out.squeeze(-1)
    return Tensor.from_op(out, (a, b), backward)
