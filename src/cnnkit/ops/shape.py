"""Ops that move data without arithmetic: reshape, permute, indexing, joining and splitting."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

import numpy as np

from cnnkit.ops._util import normalize_dims, promote_dtypes, unbroadcast
from cnnkit.ops.elementwise import cast
from cnnkit.tensor import Tensor

__all__ = [
    "cat",
    "chunk",
    "clone",
    "expand",
    "flatten",
    "getitem",
    "permute",
    "reshape",
    "split",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
]


def clone(a: Tensor) -> Tensor:
    """A copy of the data; the gradient passes through unchanged."""
    return Tensor.from_op(a.data.copy(), (a,), lambda g: (g,))


def reshape(a: Tensor, shape: tuple[int, ...]) -> Tensor:
    source_shape = a.shape
    return Tensor.from_op(a.data.reshape(shape), (a,), lambda g: (g.reshape(source_shape),))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = start_dim % a.ndim, end_dim % a.ndim
    shape = a.shape[:start] + (-1,) + a.shape[end + 1 :]
    return reshape(a, shape)


def permute(a: Tensor, dims: tuple[int, ...]) -> Tensor:
    dims = normalize_dims(dims, a.ndim)
    inverse = tuple(np.argsort(dims))
    return Tensor.from_op(a.data.transpose(dims), (a,), lambda g: (g.transpose(inverse),))


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(a.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, tuple(dims))


def squeeze(a: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """Drop size-1 dimensions (all of them, or those in ``dim``; others in ``dim`` are kept)."""
    axes = normalize_dims(dim, a.ndim)
    shape = tuple(size for i, size in enumerate(a.shape) if not (i in axes and size == 1))
    return reshape(a, shape)


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (which may be ``a.ndim``, or negative)."""
    position = dim % (a.ndim + 1)
    return reshape(a, a.shape[:position] + (1,) + a.shape[position:])


def expand(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Broadcast to ``shape`` without copying; ``-1`` keeps that dimension's size."""
    leading = len(shape) - a.ndim
    target = tuple(a.shape[i - leading] if size == -1 else size for i, size in enumerate(shape))
    source_shape = a.shape
    out = np.broadcast_to(a.data, target)
    return Tensor.from_op(out, (a,), lambda g: (unbroadcast(g, source_shape),))


def _has_array_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray | list) and np.asarray(p).dtype != bool for p in parts)


def getitem(a: Tensor, index: Any) -> Tensor:
    """NumPy indexing: ints, slices, ``None``, ``...``, integer arrays and boolean masks."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    # Only integer-array indices can name an element twice, needing the slower unbuffered add.
    repeats_possible = _has_array_index(index)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros_like(a.data)
        if repeats_possible:
            np.add.at(full, index, grad)
        else:
            full[index] = grad
        return (full,)

    return Tensor.from_op(np.asarray(a.data[index]), (a,), backward)


def _common_dtype(tensors: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """The tensors cast (differentiably) to their promoted dtype, as ``torch.cat`` does."""
    dtype = reduce(promote_dtypes, (t.dtype for t in tensors))
    return tuple(t if t.dtype == dtype else cast(t, dtype) for t in tensors)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of equal shape except along ``dim``; dtypes promote as in PyTorch."""
    tensors = _common_dtype(tuple(tensors))
    axis = dim % tensors[0].ndim
    out = np.concatenate([t.data for t in tensors], axis=axis)
    boundaries = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(grad: np.ndarray) -> list[np.ndarray]:
        return np.split(grad, boundaries, axis=axis)

    return Tensor.from_op(out, tensors, backward)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of the same shape along a new dimension ``dim``."""
    tensors = _common_dtype(tuple(tensors))
    axis = dim % (tensors[0].ndim + 1)
    out = np.stack([t.data for t in tensors], axis=axis)

    def backward(grad: np.ndarray) -> list[np.ndarray]:
        return [np.take(grad, i, axis=axis) for i in range(len(tensors))]

    return Tensor.from_op(out, tensors, backward)


def split(a: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes."""
    axis = dim % a.ndim
    length = a.shape[axis]
    if isinstance(split_size_or_sections, int | np.integer):
        step = int(split_size_or_sections)
        sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    pieces = []
    start = 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(getitem(a, index))
        start += size
    return tuple(pieces)


def chunk(a: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of ``ceil(size / chunks)`` along ``dim``, like ``torch.chunk``."""
    length = a.shape[dim % a.ndim]
    return split(a, max(-(-length // chunks), 1), dim)
