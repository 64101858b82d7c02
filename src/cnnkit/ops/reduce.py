"""Reductions over one, several or all dimensions."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from cnnkit.ops._util import normalize_dims
from cnnkit.tensor import Tensor

__all__ = [
    "amax",
    "amin",
    "argmax",
    "argmin",
    "max",
    "mean",
    "min",
    "std",
    "sum",
    "var",
    "ValuesIndices",
]


class ValuesIndices(NamedTuple):
    """What ``max``/``min`` along a dimension return, like ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


def _expand_to(grad: np.ndarray, axes: tuple[int, ...], keepdim: bool, shape: tuple) -> np.ndarray:
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return int(np.prod([shape[d] for d in axes]))


def sum(a: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, a.ndim)
    out = np.sum(a.data, axis=axes, keepdims=keepdim)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_expand_to(grad, axes, keepdim, a.shape).copy(),)

    return Tensor.from_op(np.asarray(out), (a,), backward)


def mean(a: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    axes = normalize_dims(dim, a.ndim)
    count = _count(a.shape, axes)
    out = np.mean(a.data, axis=axes, keepdims=keepdim)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_expand_to(grad / count, axes, keepdim, a.shape).astype(a.dtype),)

    return Tensor.from_op(np.asarray(out, dtype=a.dtype), (a,), backward)


def _extreme_all(a: Tensor, dim: Any, keepdim: bool, reduce: np.ufunc) -> Tensor:
    """amax/amin: the gradient is shared evenly between tied extremes, as PyTorch does."""
    axes = normalize_dims(dim, a.ndim)
    out = reduce.reduce(a.data, axis=axes, keepdims=True)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        hits = a.data == out
        share = grad if keepdim else np.expand_dims(grad, axes)
        return ((share * hits / hits.sum(axis=axes, keepdims=True)).astype(a.dtype),)

    return Tensor.from_op(out if keepdim else out.squeeze(axes), (a,), backward)


def _extreme_along(a: Tensor, dim: int, keepdim: bool, pick: Any) -> ValuesIndices:
    """max/min along ``dim``: values and first index (NaN counts as the extreme, as in
    torch); the gradient goes to that index."""
    axis = dim % a.ndim if a.ndim else 0
    data = a.data if a.ndim else a.data.reshape(1)
    kept_indices = np.expand_dims(pick(data, axis=axis), axis)
    values = np.take_along_axis(data, kept_indices, axis=axis)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros_like(data)
        grad = grad.reshape(kept_indices.shape)
        np.put_along_axis(full, kept_indices, grad, axis)
        return (full.reshape(a.shape),)

    indices = kept_indices
    if not keepdim or a.ndim == 0:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return ValuesIndices(Tensor.from_op(values, (a,), backward), Tensor(indices.astype(np.int64)))


def max(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``max(a)``: the largest element (ties share the gradient). ``max(a, dim)``:
    ``(values, indices)`` like torch; the gradient goes to the returned index."""
    if dim is None:
        return _extreme_all(a, None, False, np.maximum)
    return _extreme_along(a, dim, keepdim, np.argmax)


def min(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``min(a)``: the smallest element. ``min(a, dim)``: ``(values, indices)`` like torch."""
    if dim is None:
        return _extreme_all(a, None, False, np.minimum)
    return _extreme_along(a, dim, keepdim, np.argmin)


def amax(a: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Largest values over ``dim`` (all dims when empty); ties share the gradient."""
    return _extreme_all(a, dim if dim != () else None, keepdim, np.maximum)


def amin(a: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """Smallest values over ``dim`` (all dims when empty); ties share the gradient."""
    return _extreme_all(a, dim if dim != () else None, keepdim, np.minimum)


def argmax(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first largest value (in the flattened tensor when ``dim`` is None)."""
    if dim is None:
        index = np.argmax(a.data)
        return Tensor(np.full((1,) * a.ndim if keepdim else (), index, dtype=np.int64))
    return Tensor(np.argmax(a.data, axis=dim, keepdims=keepdim).astype(np.int64))


def argmin(a: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first smallest value (in the flattened tensor when ``dim`` is None)."""
    if dim is None:
        index = np.argmin(a.data)
        return Tensor(np.full((1,) * a.ndim if keepdim else (), index, dtype=np.int64))
    return Tensor(np.argmin(a.data, axis=dim, keepdims=keepdim).astype(np.int64))


def var(a: Tensor, dim: Any = None, correction: float = 1, keepdim: bool = False) -> Tensor:
    """Variance over ``dim``: ``sum((x - mean)^2) / (N - correction)`` (inf/nan if N <= it)."""
    axes = normalize_dims(dim, a.ndim)
    divisor = _count(a.shape, axes) - correction
    centered = a.data - a.data.mean(axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray((centered * centered).sum(axis=axes, keepdims=keepdim) / divisor)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = _expand_to(grad, axes, keepdim, a.shape) * (2 / divisor)
        return ((scale * centered).astype(a.dtype, copy=False),)

    return Tensor.from_op(out.astype(a.dtype, copy=False), (a,), backward)


def std(a: Tensor, dim: Any = None, correction: float = 1, keepdim: bool = False) -> Tensor:
    """Standard deviation over ``dim``: the square root of :func:`var`."""
    axes = normalize_dims(dim, a.ndim)
    divisor = _count(a.shape, axes) - correction
    centered = a.data - a.data.mean(axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(np.asarray((centered * centered).sum(axis=axes, keepdims=True) / divisor))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        # d std = (x - mean) / (divisor * std), taken as 0 where std == 0, as PyTorch does
        grad = grad if keepdim else np.expand_dims(grad, axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(out == 0, 0, grad / (divisor * out))
        return ((scale * centered).astype(a.dtype, copy=False),)

    shaped = out if keepdim else out.squeeze(axes)
    return Tensor.from_op(shaped.astype(a.dtype, copy=False), (a,), backward)
