"""Ops that move data without arithmetic: reshape, permute, indexing."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.tensor import Tensor


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
    inverse = tuple(np.argsort(dims))
    return Tensor.from_op(a.data.transpose(dims), (a,), lambda g: (g.transpose(inverse),))


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(a.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, tuple(dims))


def getitem(a: Tensor, index: Any) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        full = np.zeros_like(a.data)
        np.add.at(full, index, grad)  # repeated integer indices must accumulate
        return (full,)

    return Tensor.from_op(np.asarray(a.data[index]), (a,), backward)
