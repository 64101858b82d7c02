"""Reductions over one, several or all dimensions."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.ops._util import normalize_dims
from cnnkit.tensor import Tensor

__all__ = ["max", "mean", "sum"]


def _expand_to(grad: np.ndarray, axes: tuple[int, ...], keepdim: bool, shape: tuple) -> np.ndarray:
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def sum(a: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, a.ndim)
    out = np.sum(a.data, axis=axes, keepdims=keepdim)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_expand_to(grad, axes, keepdim, a.shape).copy(),)

    return Tensor.from_op(np.asarray(out), (a,), backward)


def mean(a: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, a.ndim)
    count = int(np.prod([a.shape[d] for d in axes]))
    out = np.mean(a.data, axis=axes, keepdims=keepdim)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_expand_to(grad / count, axes, keepdim, a.shape).astype(a.dtype),)

    return Tensor.from_op(np.asarray(out, dtype=a.dtype), (a,), backward)


def max(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``max(a)`` is the largest element; ``max(a, dim)`` is ``(values, indices)`` like torch.

    The gradient of the whole-tensor max is shared evenly between ties (as PyTorch does); along
    a dimension it goes to the index that is returned.
    """
    if dim is None:
        out = np.max(a.data)
        mask = a.data == out

        def backward_all(grad: np.ndarray) -> tuple[np.ndarray]:
            return ((grad * mask / mask.sum()).astype(a.dtype),)

        return Tensor.from_op(np.asarray(out), (a,), backward_all)

    axis = dim % a.ndim
    indices = np.argmax(a.data, axis=axis, keepdims=True)
    values = np.take_along_axis(a.data, indices, axis=axis)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros_like(a.data)
        np.put_along_axis(full, indices, grad if keepdim else np.expand_dims(grad, axis), axis)
        return (full,)

    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return Tensor.from_op(values, (a,), backward), Tensor(indices)
