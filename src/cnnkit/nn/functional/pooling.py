"""The functional API for max, average and adaptive pooling, and max-unpooling.

Same names, arguments and rules as ``torch.nn.functional``: inputs are batched
``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; ``stride=None`` means ``kernel_size``;
padding may be at most half the (undilated) kernel size; output sizes follow
``cnnkit.arithmetic.shapes.pool_output_size``. Max pooling pads with ``-inf``, so padding never
wins; its indices are flat positions within each channel's spatial plane (int64).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit import ops
from cnnkit.arithmetic.shapes import conv_transpose_output_size, pool_output_size
from cnnkit.nn._checks import (
    check_floating,
    check_ndim,
    non_negative_tuple,
    ntuple,
    positive_tuple,
    to_tensor,
)
from cnnkit.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

Ints = tuple[int, ...]
PoolResult = Tensor | tuple[Tensor, Tensor]


# --- argument checks shared by the pools -----------------------------------------------------
def _pool_input(input: Any, n: int, what: str) -> Tensor:
    """A floating (C, *spatial) or (N, C, *spatial) tensor with no empty non-batch axis."""
    x = to_tensor(input)
    check_floating(x)
    check_ndim(x, (n + 1, n + 2), what)
    non_batch = x.shape[-(n + 1) :]
    if 0 in non_batch:
        raise ValueError(
            f"{what}: expected input with non-empty channel and spatial axes, got shape "
            f"{tuple(x.shape)}"
        )
    return x


def _stride(stride: Any, kernel: Ints) -> Ints:
    """``None`` (or an empty sequence, as PyTorch allows) means the kernel size."""
    if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0):
        return kernel
    return positive_tuple(stride, len(kernel), "stride")


def _window(
    what: str, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[Ints, Ints, Ints, Ints]:
    """Checked (kernel, stride, padding, dilation); padding may be at most half the kernel."""
    kernel = positive_tuple(kernel_size, n, "kernel_size")
    strides = _stride(stride, kernel)
    pads = non_negative_tuple(padding, n, "padding")
    dilations = positive_tuple(dilation, n, "dilation")
    # PyTorch compares with the plain kernel size, not the dilated extent.
    if any(p > k // 2 for p, k in zip(pads, kernel, strict=True)):
        raise ValueError(
            f"{what}: padding must be at most half of kernel_size, got padding={padding!r} "
            f"and kernel_size={kernel_size!r}"
        )
    return kernel, strides, pads, dilations


def _pool_output(
    what: str,
    x: Tensor,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
    ceil_mode: bool,
) -> None:
    """Raise unless every spatial output size is at least 1."""
    spatial = x.shape[-len(kernel) :]
    out = tuple(
        pool_output_size(i, k, s, p, d, ceil_mode)
        for i, k, s, p, d in zip(spatial, kernel, stride, padding, dilation, strict=True)
    )
    if any(o < 1 for o in out):
        raise ValueError(
            f"{what}: output size {out} is too small for input of spatial size {spatial} "
            f"(kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation})"
        )


# --- max pooling ------------------------------------------------------------------------------
def _max_pool(
    n: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> PoolResult:
    what = f"max_pool{n}d"
    x = _pool_input(input, n, what)
    kernel, strides, pads, dilations = _window(what, n, kernel_size, stride, padding, dilation)
    _pool_output(what, x, kernel, strides, pads, dilations, bool(ceil_mode))
    return ops.max_pool(x, kernel, strides, pads, dilations, bool(ceil_mode), bool(return_indices))


def max_pool1d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    dilation: int | Ints = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> PoolResult:
    """1-D max pooling: the maximum of each window.

    Args:
        input: (N, C, L) or (C, L).
        kernel_size: window size.
        stride: window step; ``None`` means ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides, at most ``kernel_size // 2``.
        dilation: spacing between window elements.
        ceil_mode: round the output size up (a last window must start inside the input or the
            left padding).
        return_indices: also return the int64 positions of the maxima (for ``max_unpool1d``).

    Shape:
        (N, C, L) -> (N, C, L_out), L_out = pool_output_size(L, k, s, p, d, ceil_mode).

    Example:
        >>> F.max_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
        tensor([[[3., 2.]]])
    """
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    dilation: int | Ints = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> PoolResult:
    """2-D max pooling: the maximum of each window.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, an int or (kH, kW).
        stride: window step; ``None`` means ``kernel_size``.
        padding: implicit ``-inf`` padding on both sides, at most ``kernel_size // 2``.
        dilation: spacing between window elements.
        ceil_mode: round the output size up (a last window must start inside the input or the
            left padding).
        return_indices: also return the int64 positions of the maxima, flat within each
            (H, W) plane (for ``max_unpool2d``).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), each by ``pool_output_size``.

    Example:
        >>> x = cnnkit.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> F.max_pool2d(x, 2).shape
        (1, 1, 2, 2)
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    dilation: int | Ints = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> PoolResult:
    """3-D max pooling; arguments as ``max_pool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# --- average pooling --------------------------------------------------------------------------
def _avg_pool(
    n: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
) -> Tensor:
    what = f"avg_pool{n}d"
    x = _pool_input(input, n, what)
    kernel, strides, pads, _ = _window(what, n, kernel_size, stride, padding, 1)
    _pool_output(what, x, kernel, strides, pads, (1,) * n, bool(ceil_mode))
    spatial = x.shape[-n:]
    if n == 3 and any(i < k for i, k in zip(spatial, kernel, strict=True)):
        # PyTorch's 3-D average pooling (only) rejects inputs smaller than the kernel.
        raise ValueError(
            f"{what}: input of spatial size {spatial} is smaller than kernel_size={kernel_size!r}"
        )
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int | np.integer):
            raise TypeError(f"divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError(f"divisor_override must not be zero, got {divisor_override!r}")
        divisor_override = int(divisor_override)
    return ops.avg_pool(
        x, kernel, strides, pads, bool(ceil_mode), bool(count_include_pad), divisor_override
    )


def avg_pool1d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling; arguments as ``avg_pool2d`` (PyTorch has no divisor_override here).

    Shape:
        (N, C, L) or (C, L) -> (N, C, L_out).
    """
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """2-D average pooling: the mean of each window.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size: window size, an int or (kH, kW).
        stride: window step; ``None`` means ``kernel_size``.
        padding: implicit zero padding on both sides, at most ``kernel_size // 2``.
        ceil_mode: round the output size up.
        count_include_pad: divide by the window size including the zero padding it covers
            (never the part of a ceil-mode window past the padding); otherwise by the number
            of input elements in the window.
        divisor_override: divide every window's sum by this instead.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), each by ``pool_output_size``.

    Example:
        >>> F.avg_pool2d(cnnkit.tensor(np.ones((1, 1, 4, 4))), 2, padding=1).shape
        (1, 1, 3, 3)
    """
    return _avg_pool(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """3-D average pooling; arguments as ``avg_pool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    return _avg_pool(
        3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# --- power-average pooling -------------------------------------------------------------------
def _lp_pool(
    n: int, input: Any, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool
) -> Tensor:
    what = f"lp_pool{n}d"
    x = _pool_input(input, n, what)
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float | np.number):
        raise TypeError(f"{what}: norm_type must be a number, got {norm_type!r}")
    if norm_type == 0:
        raise ValueError(f"{what}: norm_type must not be zero, got {norm_type!r}")
    kernel, strides, pads, ones = _window(what, n, kernel_size, stride, 0, 1)
    _pool_output(what, x, kernel, strides, pads, ones, bool(ceil_mode))
    # PyTorch's own composition: (k * mean of x**p) ** (1/p), i.e. the p-norm of each window.
    powered = x ** float(norm_type)
    pooled = ops.avg_pool(powered, kernel, strides, pads, bool(ceil_mode), True, None)
    return (pooled * float(np.prod(kernel))) ** (1.0 / float(norm_type))


def lp_pool1d(
    input: Any,
    norm_type: float,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """1-D power-average pooling; see ``lp_pool2d``.

    Shape:
        (N, C, L) or (C, L) -> (N, C, L_out).
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: Any,
    norm_type: float,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """2-D power-average pooling: ``(sum of x**p over each window) ** (1/p)``.

    p = 1 is sum pooling; large p approaches max pooling (of |x|, for even p).

    Args:
        input: (N, C, H, W) or (C, H, W).
        norm_type: p (non-zero).
        kernel_size: window size, an int or (kH, kW).
        stride: window step; ``None`` means ``kernel_size``.
        ceil_mode: round the output size up (as PyTorch, a partial window's sum is scaled by
            kernel area / window count).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> F.lp_pool2d(cnnkit.tensor(np.ones((1, 1, 4, 4))), 2, 2)
        tensor([[[[2., 2.],
                  [2., 2.]]]], dtype=float64)
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: Any,
    norm_type: float,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    ceil_mode: bool = False,
) -> Tensor:
    """3-D power-average pooling; see ``lp_pool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# --- adaptive pooling -------------------------------------------------------------------------
def _adaptive_input(input: Any, n: int, output_size: Any, what: str) -> tuple[Tensor, Ints]:
    """Checked input and output size; ``None`` in ``output_size`` keeps that input size."""
    x = _pool_input(input, n, what)
    if isinstance(output_size, list | tuple) and len(output_size) == n:
        output_size = tuple(
            x.shape[-n + axis] if size is None else size for axis, size in enumerate(output_size)
        )
    result = ntuple(output_size, n, "output_size")
    if any(o < 0 for o in result):
        raise ValueError(f"{what}: output_size must be non-negative, got {output_size!r}")
    return x, result


def adaptive_avg_pool1d(input: Any, output_size: int | Ints) -> Tensor:
    """1-D adaptive average pooling to ``output_size``; see ``adaptive_avg_pool2d``.

    Shape:
        (N, C, L) or (C, L) -> (N, C, output_size).
    """
    x, size = _adaptive_input(input, 1, output_size, "adaptive_avg_pool1d")
    return ops.adaptive_avg_pool(x, size)


def adaptive_avg_pool2d(input: Any, output_size: int | None | tuple[int | None, ...]) -> Tensor:
    """2-D adaptive average pooling: the mean of each of ``output_size`` bins per axis.

    Bin j of an axis of size i covers [floor(j*i/o), ceil((j+1)*i/o)); bins may overlap.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int or (H_out, W_out); ``None`` keeps that input size.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> F.adaptive_avg_pool2d(cnnkit.tensor(np.ones((2, 8, 7, 5))), 1).shape
        (2, 8, 1, 1)
    """
    x, size = _adaptive_input(input, 2, output_size, "adaptive_avg_pool2d")
    return ops.adaptive_avg_pool(x, size)


def adaptive_avg_pool3d(input: Any, output_size: int | None | tuple[int | None, ...]) -> Tensor:
    """3-D adaptive average pooling; see ``adaptive_avg_pool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    x, size = _adaptive_input(input, 3, output_size, "adaptive_avg_pool3d")
    return ops.adaptive_avg_pool(x, size)


def adaptive_max_pool1d(
    input: Any, output_size: int | Ints, return_indices: bool = False
) -> PoolResult:
    """1-D adaptive max pooling; see ``adaptive_max_pool2d``.

    Shape:
        (N, C, L) or (C, L) -> (N, C, output_size).
    """
    x, size = _adaptive_input(input, 1, output_size, "adaptive_max_pool1d")
    return ops.adaptive_max_pool(x, size, bool(return_indices))


def adaptive_max_pool2d(
    input: Any, output_size: int | None | tuple[int | None, ...], return_indices: bool = False
) -> PoolResult:
    """2-D adaptive max pooling: the maximum of each of ``output_size`` bins per axis.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: an int or (H_out, W_out); ``None`` keeps that input size.
        return_indices: also return the int64 positions of the maxima, flat per plane.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).
    """
    x, size = _adaptive_input(input, 2, output_size, "adaptive_max_pool2d")
    return ops.adaptive_max_pool(x, size, bool(return_indices))


def adaptive_max_pool3d(
    input: Any, output_size: int | None | tuple[int | None, ...], return_indices: bool = False
) -> PoolResult:
    """3-D adaptive max pooling; see ``adaptive_max_pool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    x, size = _adaptive_input(input, 3, output_size, "adaptive_max_pool3d")
    return ops.adaptive_max_pool(x, size, bool(return_indices))


# --- max unpooling ----------------------------------------------------------------------------
def _max_unpool(
    n: int,
    input: Any,
    indices: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    output_size: Any,
) -> Tensor:
    what = f"max_unpool{n}d"
    x = _pool_input(input, n, what)
    index = to_tensor(indices, "indices")
    if index.dtype != np.int64:
        raise TypeError(f"{what}: indices must be int64, got dtype={index.dtype}")
    if index.shape != x.shape:
        raise ValueError(
            f"{what}: indices must have the input's shape {tuple(x.shape)}, got "
            f"{tuple(index.shape)}"
        )
    kernel = positive_tuple(kernel_size, n, "kernel_size")
    strides = _stride(stride, kernel)
    pads = non_negative_tuple(padding, n, "padding")
    default = tuple(
        conv_transpose_output_size(i, k, s, p)
        for i, k, s, p in zip(x.shape[-n:], kernel, strides, pads, strict=True)
    )
    if output_size is None:
        size = default
    else:
        given = tuple(output_size)
        if len(given) == n + 2:
            given = given[2:]
        size = ntuple(given, n, "output_size") if len(given) == n else None
        if size is None:
            raise ValueError(
                f"{what}: output_size must have {n} or {n + 2} entries, got {output_size!r}"
            )
        for o, d, s in zip(size, default, strides, strict=True):
            if not d - s < o < d + s:
                raise ValueError(
                    f"{what}: output_size {output_size!r} is out of range: each size must lie "
                    f"strictly between default - stride and default + stride, default {default}"
                )
    if any(o < 1 for o in size):
        raise ValueError(f"{what}: output size {size} must be positive")
    plane = int(np.prod(size))
    if index.data.size and (index.data.min() < 0 or index.data.max() >= plane):
        bad = index.data[(index.data < 0) | (index.data >= plane)].flat[0]
        raise ValueError(f"{what}: indices contain {bad}, outside an output plane of size {size}")
    return ops.max_unpool(x, index, size)


def max_unpool1d(
    input: Any,
    indices: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    output_size: Ints | None = None,
) -> Tensor:
    """1-D max-unpooling; see ``max_unpool2d``.

    Shape:
        (N, C, L) or (C, L) -> (N, C, L_out), L_out = (L - 1)s - 2p + k unless given.
    """
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Any,
    indices: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    output_size: Ints | None = None,
) -> Tensor:
    """Partial inverse of ``max_pool2d``: each value goes back to its max position, zeros elsewhere.

    Args:
        input: (N, C, H, W) or (C, H, W), pooled values.
        indices: int64, the input's shape: flat positions from
            ``max_pool2d(..., return_indices=True)``.
        kernel_size, stride, padding: those of the max pooling (they fix the default size).
        output_size: (H_out, W_out) or (N, C, H_out, W_out), to undo a pool whose input size
            is ambiguous; each must lie strictly within ``stride`` of the default.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H - 1)s - 2p + k unless given.

    Example:
        >>> x = cnnkit.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> pooled, where = F.max_pool2d(x, 2, return_indices=True)
        >>> F.max_unpool2d(pooled, where, 2).shape
        (1, 1, 4, 4)
    """
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(
    input: Any,
    indices: Any,
    kernel_size: int | Ints,
    stride: int | Ints | None = None,
    padding: int | Ints = 0,
    output_size: Ints | None = None,
) -> Tensor:
    """3-D max-unpooling; see ``max_unpool2d``.

    Shape:
        (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).
    """
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
