"""Helpers shared by the ops: turning inputs into Tensors and undoing broadcasting."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.tensor import Tensor

# Decorator (and context manager) for ops where log(0), x / 0, sqrt(-1) or overflow are
# legitimate: they give -inf/inf/nan quietly, as in PyTorch, instead of NumPy's warnings.
ieee_silent = np.errstate(divide="ignore", over="ignore", invalid="ignore")


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor from ``value``. A Python scalar takes the dtype of ``like`` unless it is of a
    higher kind (bool < int < float), as in PyTorch: ``float32 * 2 -> float32``,
    ``int64 * 2.5 -> float32``."""
    if isinstance(value, Tensor):
        return value
    if (
        like is not None
        and isinstance(value, int | float)
        and scalar_kind(value) <= dtype_kind(like.dtype)
    ):
        return Tensor(np.asarray(value, dtype=like.dtype))
    return Tensor(value)


def dtype_kind(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point: PyTorch's promotion categories."""
    return _KIND_RANK.get(dtype.kind, 2)


_KIND_RANK = {"b": 0, "i": 1, "u": 1, "f": 2}


def promote_dtypes(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of an op on two dimensioned tensors: the higher kind wins (int64 + float32
    is float32, as in PyTorch, not float64 as in NumPy); within a kind, the wider."""
    kind_a, kind_b = dtype_kind(a), dtype_kind(b)
    if kind_a != kind_b:
        return a if kind_a > kind_b else b
    return np.promote_types(a, b)


def scalar_kind(value: bool | int | float) -> int:
    return 0 if isinstance(value, bool) else 1 if isinstance(value, int) else 2


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
    """Non-negative axes; ``None`` means all of them. A 0-d tensor has none (dim 0 or -1 is
    accepted for it, as in PyTorch)."""
    if dim is None or ndim == 0:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    return tuple(int(d) % ndim for d in dims)
