"""Helpers shared by the ops: turning inputs into Tensors and undoing broadcasting."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.tensor import Tensor


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor from ``value``; Python scalars take the dtype of ``like`` (no type promotion)."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float | bool):
        return Tensor(np.asarray(value, dtype=like.dtype))
    return Tensor(value)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def normalize_dims(dim: int | tuple[int, ...] | list[int] | None, ndim: int) -> tuple[int, ...]:
    """Non-negative axes; ``None`` means all of them."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(d % ndim if ndim else 0 for d in dims)
