"""Convolution as a matrix product: ``conv2d(x).ravel() == C @ x.ravel()``.

Dumoulin & Visin (section 4.1) unroll input and output row by row and write the convolution as
a sparse matrix ``C`` whose non-zero entries are the kernel weights. The same ``C`` defines the
transposed convolution: ``conv_transpose2d(y) == C.T @ y`` (same kernel, same stride, padding
and dilation; the backward pass of the convolution is the forward pass of its transpose).

``C`` is returned in coordinate (COO) form, :class:`SparseMatrix`, because a dense one has
``C_out*OH*OW x C_in*H*W`` entries, almost all zero. SciPy is not needed; ``.toarray()`` gives
the dense ndarray when it is small enough to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cnnkit.arithmetic.shapes import conv_output_size

__all__ = ["SparseMatrix", "conv_matrix"]


@dataclass(frozen=True)
class SparseMatrix:
    """A matrix in coordinate form: entry ``values[n]`` sits at ``(rows[n], cols[n])``.

    Duplicate coordinates do not occur in matrices built by :func:`conv_matrix`.
    Supports ``C @ v`` for a vector or a 2-D array of column vectors, ``C.T`` and ``toarray()``.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        """Number of stored (non-zero) entries."""
        return int(self.values.size)

    @property
    def T(self) -> SparseMatrix:
        """The transpose (shares the arrays; rows and columns swap roles)."""
        return SparseMatrix(self.cols, self.rows, self.values, (self.shape[1], self.shape[0]))

    def toarray(self) -> np.ndarray:
        """The dense ndarray, shape ``self.shape``."""
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows, self.cols] = self.values
        return dense

    def __matmul__(self, other: Any) -> np.ndarray:
        operand = np.asarray(other)
        if operand.ndim not in (1, 2) or operand.shape[0] != self.shape[1]:
            raise ValueError(
                f"SparseMatrix @: operand of shape {operand.shape} does not match a matrix of "
                f"shape {self.shape}"
            )
        products = self.values.reshape((-1,) + (1,) * (operand.ndim - 1)) * operand[self.cols]
        result = np.zeros((self.shape[0],) + operand.shape[1:], dtype=products.dtype)
        np.add.at(result, self.rows, products)
        return result


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | tuple | list):
        raise TypeError(f"conv_matrix: {name} must be an int or a pair of ints, got {value!r}")
    pair = (int(value), int(value)) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair):
        raise TypeError(f"conv_matrix: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"conv_matrix: {name} must be {bound}, got {value!r}")
    return int(pair[0]), int(pair[1])


def conv_matrix(
    input_shape: tuple[int, ...],
    weight: Any,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> SparseMatrix:
    """The matrix ``C`` of ``F.conv2d(x, weight, stride=..., padding=..., dilation=...)``.

    Args:
        input_shape: ``(C_in, H, W)`` (or ``(H, W)`` with a 2-D ``weight``), one sample.
        weight: kernel, ndarray or Tensor of shape ``(C_out, C_in, kH, kW)`` (or ``(kH, kW)``).
        stride, padding, dilation: as in ``F.conv2d``; an int or an ``(h, w)`` pair.

    Returns:
        A :class:`SparseMatrix` of shape ``(C_out*OH*OW, C_in*H*W)`` holding exactly the
        ``C_out*OH*OW`` kernel placements that fall on the input (zero padding contributes
        nothing, so it has no entries).

    Shape:
        ``F.conv2d(x[None], weight).ravel() == C @ x.ravel()`` for ``x`` of shape
        ``input_shape``, and ``F.conv_transpose2d(y[None], weight, output_padding=a).ravel()
        == C.T @ y.ravel()`` for ``y`` of shape ``(C_out, OH, OW)`` with ``a`` the paper's
        ``(i + 2p - d(k-1) - 1) mod s`` per axis.

    Example:
        >>> C = conv_matrix((4, 4), np.arange(9.0).reshape(3, 3))
        >>> C.shape
        (4, 16)
    """
    kernel = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)
    shape = tuple(int(v) for v in input_shape)
    if kernel.ndim == 2 and len(shape) == 2:
        kernel, shape = kernel[None, None], (1, *shape)
    if kernel.ndim != 4 or len(shape) != 3:
        raise ValueError(
            f"conv_matrix: expected input_shape (C_in, H, W) with a 4-D weight or (H, W) with a "
            f"2-D weight, got input_shape={tuple(input_shape)} and weight of shape {kernel.shape}"
        )
    out_channels, in_channels, kernel_h, kernel_w = kernel.shape
    if shape[0] != in_channels:
        raise ValueError(
            f"conv_matrix: input_shape has {shape[0]} channels but weight expects {in_channels}"
        )
    strides = _pair(stride, "stride", 1)
    paddings = _pair(padding, "padding", 0)
    dilations = _pair(dilation, "dilation", 1)
    height, width = shape[1], shape[2]
    out_h, out_w = (
        conv_output_size(size, k, s, p, d)
        for size, k, s, p, d in zip(
            (height, width), (kernel_h, kernel_w), strides, paddings, dilations, strict=True
        )
    )
    if out_h <= 0 or out_w <= 0:
        raise ValueError(
            f"conv_matrix: output size ({out_h}, {out_w}) is not positive for input "
            f"({height}, {width}), kernel ({kernel_h}, {kernel_w}), padding={padding!r}, "
            f"dilation={dilation!r}"
        )

    # Broadcast every (output element, kernel element) pair; axes: co, oh, ow, ci, kh, kw.
    co, oh, ow, ci, kh, kw = np.ix_(
        np.arange(out_channels),
        np.arange(out_h),
        np.arange(out_w),
        np.arange(in_channels),
        np.arange(kernel_h),
        np.arange(kernel_w),
    )
    ih = oh * strides[0] - paddings[0] + kh * dilations[0]
    iw = ow * strides[1] - paddings[1] + kw * dilations[1]
    full = (out_channels, out_h, out_w, in_channels, kernel_h, kernel_w)
    rows = np.broadcast_to((co * out_h + oh) * out_w + ow, full)
    cols = np.broadcast_to((ci * height + ih) * width + iw, full)
    values = np.broadcast_to(kernel[co, ci, kh, kw], full)
    inside = np.broadcast_to((ih >= 0) & (ih < height) & (iw >= 0) & (iw < width), full)
    return SparseMatrix(
        rows=rows[inside].astype(np.int64),
        cols=cols[inside].astype(np.int64),
        values=values[inside].copy(),
        shape=(out_channels * out_h * out_w, in_channels * height * width),
    )
