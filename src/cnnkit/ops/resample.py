"""Interpolation and pixel shuffle: forward and backward side by side.

Interpolation is separable: along each spatial axis, every output element is a weighted sum of
a few input elements ("taps": 1 for nearest, 2 for linear, 4 for cubic). The op gathers each
tap along the axis for all outputs at once, weights and adds them, axis after axis. Backward
is the transpose of each axis's (out, in) tap matrix, applied as a GEMM.

Source positions follow PyTorch's CPU kernels bit for bit: the scale is ``1/scale_factor`` when
a scale factor reaches the kernel and ``in/out`` otherwise, computed in float32 for float32
inputs (float64 for float64), and index arithmetic rounds where PyTorch's C++ rounds.
"""

from __future__ import annotations

import numpy as np

from cnnkit.ops.pool import matmul_along_axis
from cnnkit.tensor import Tensor

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle"]

Ints = tuple[int, ...]
Taps = list[tuple[np.ndarray, np.ndarray | None]]  # (source index, weight or None) per tap

_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic coefficient


# --- where each output element comes from --------------------------------------------------
def _scale(
    in_size: int,
    out_size: int,
    scale_factor: float | None,
    align_corners: bool,
    dtype: np.dtype,
) -> np.generic:
    """Source step per output step (PyTorch's area_pixel_compute_scale), in ``dtype``."""
    kind = dtype.type
    if align_corners:
        return kind(in_size - 1) / kind(out_size - 1) if out_size > 1 else kind(0)
    if scale_factor is not None and scale_factor > 0:
        return kind(1.0 / scale_factor)
    return kind(in_size) / kind(out_size)


def _floorf(values: np.ndarray) -> np.ndarray:
    """C's ``floorf``: the argument is first rounded to float32 (matters for float64 inputs)."""
    return np.floor(values.astype(np.float32)).astype(np.int64)


def _source_positions(
    scale: np.generic, out_size: int, align_corners: bool, clamp_at_zero: bool
) -> np.ndarray:
    """PyTorch's area_pixel_compute_source_index for every output index, in scale's dtype."""
    kind = type(scale)
    dst = np.arange(out_size).astype(kind)
    if align_corners:
        return scale * dst
    source = scale * (dst + kind(0.5)) - kind(0.5)
    return np.maximum(source, kind(0)) if clamp_at_zero else source


def _nearest_taps(
    mode: str, in_size: int, out_size: int, scale_factor: float | None, dtype: np.dtype
) -> Taps:
    scale = _scale(in_size, out_size, scale_factor, False, dtype)
    if mode == "nearest":
        source = _floorf(np.arange(out_size).astype(dtype) * scale)
    else:  # nearest-exact rounds half up from the pixel-centre position
        centre = _source_positions(scale, out_size, False, clamp_at_zero=True)
        source = _floorf(centre.astype(np.float64) + 0.5)
    return [(np.minimum(source, in_size - 1), None)]


def _nearest_backward_taps(
    mode: str, in_size: int, out_size: int, scale_factor: float | None
) -> Taps:
    """The indices of PyTorch's nearest backward kernels (and of its 2-D forward kernel).

    They use an older rule than ``_nearest_taps``: a float32 scale, and for 'nearest' a plain
    copy when the size is unchanged and a shift when it doubles, whatever the scale factor.
    Copied so values and gradients are PyTorch's; the rules only disagree when a scale factor
    does not match the sizes (e.g. 1.05 on 10 pixels gives 10).
    """
    scale = _scale(in_size, out_size, scale_factor, False, np.dtype(np.float32))
    dst = np.arange(out_size)
    if mode == "nearest":
        if out_size == in_size:
            source = dst
        elif out_size == 2 * in_size:
            source = dst >> 1
        else:
            source = _floorf(dst.astype(np.float32) * scale)
    else:
        source = _floorf((dst + 0.5) * np.float64(scale))
    return [(np.minimum(source, in_size - 1), None)]


def _linear_taps(
    in_size: int,
    out_size: int,
    scale_factor: float | None,
    align_corners: bool,
    dtype: np.dtype,
) -> Taps:
    if out_size == in_size:  # PyTorch copies, whatever the scale factor says
        return [(np.arange(out_size), None)]
    scale = _scale(in_size, out_size, scale_factor, align_corners, dtype)
    source = _source_positions(scale, out_size, align_corners, clamp_at_zero=True)
    first = np.minimum(source.astype(np.int64), in_size - 1)
    second = first + (first < in_size - 1)
    weight = np.clip(source - first.astype(dtype), 0, 1).astype(dtype)
    return [(first, (1 - weight).astype(dtype)), (second, weight)]


def _cubic_taps(
    in_size: int,
    out_size: int,
    scale_factor: float | None,
    align_corners: bool,
    dtype: np.dtype,
) -> Taps:
    scale = _scale(in_size, out_size, scale_factor, align_corners, dtype)
    source = _source_positions(scale, out_size, align_corners, clamp_at_zero=False)
    base = np.minimum(_floorf(source), in_size - 1)
    t = np.clip(source - base.astype(dtype), 0, 1).astype(dtype)
    a = dtype.type(_CUBIC_A)

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = dtype.type(1)
    weights = (far(t + one), near(t), near(one - t), far(one - t + one))
    return [
        (np.clip(base - 1 + j, 0, in_size - 1), weight.astype(dtype))
        for j, weight in enumerate(weights)
    ]


# --- applying taps along one axis -----------------------------------------------------------
def _weights_along(weight: np.ndarray, axis: int) -> np.ndarray:
    """Per-output weights shaped to broadcast along the negative axis ``axis``."""
    return weight.reshape((-1,) + (1,) * (-axis - 1))


def _gather_axis(data: np.ndarray, taps: Taps, axis: int) -> np.ndarray:
    """out[..., j, ...] = sum over taps of weight[j] * data[..., index[j], ...] along ``axis``."""
    out = None
    for index, weight in taps:
        picked = np.take(data, index, axis=axis)
        if weight is not None:
            picked *= _weights_along(weight, axis)
        out = picked if out is None else np.add(out, picked, out=out)
    return out


def _tap_matrix(taps: Taps, in_size: int, dtype: np.dtype) -> np.ndarray:
    """The (out, in) matrix of one axis's taps: ``_gather_axis`` is a product with it."""
    out_size = len(taps[0][0])
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    for index, weight in taps:
        np.add.at(matrix, (rows, index), 1 if weight is None else weight)
    return matrix


def _is_identity(taps: Taps, in_size: int) -> bool:
    index, weight = taps[0]
    return len(taps) == 1 and weight is None and np.array_equal(index, np.arange(in_size))


def interpolate(
    x: Tensor,
    size: Ints,
    scale_factors: tuple[float | None, ...],
    mode: str,
    align_corners: bool,
) -> Tensor:
    """Resize the last ``len(size)`` axes to ``size``.

    ``mode`` is 'nearest', 'nearest-exact', 'linear' (any number of axes) or 'cubic';
    ``scale_factors`` are those PyTorch's kernel receives (``None`` where it gets none).
    """
    n = len(size)
    spatial = x.shape[-n:]
    # PyTorch's 2-D nearest forward kernel (only) keeps the older rule of its backward kernels.
    older_nearest_forward = n == 2
    forward_taps: list[Taps] = []
    backward_taps: list[Taps] = []
    for in_size, out_size, factor in zip(spatial, size, scale_factors, strict=True):
        if mode in ("nearest", "nearest-exact"):
            backward_taps.append(_nearest_backward_taps(mode, in_size, out_size, factor))
            forward_taps.append(
                backward_taps[-1]
                if older_nearest_forward
                else _nearest_taps(mode, in_size, out_size, factor, x.dtype)
            )
        elif mode == "linear":
            forward_taps.append(_linear_taps(in_size, out_size, factor, align_corners, x.dtype))
            backward_taps.append(forward_taps[-1])
        else:
            forward_taps.append(_cubic_taps(in_size, out_size, factor, align_corners, x.dtype))
            backward_taps.append(forward_taps[-1])
    if mode == "cubic" and tuple(size) == tuple(spatial):
        # PyTorch's bicubic backward copies the gradient when no size changes (its forward
        # does not take that shortcut); copied so the gradients are PyTorch's.
        backward_taps = [[(np.arange(in_size), None)] for in_size in spatial]

    # The last axis first, as PyTorch nests its sums (same rounding).
    out = x.data
    for axis in range(-1, -n - 1, -1):
        if not _is_identity(forward_taps[axis], spatial[axis]):
            out = _gather_axis(out, forward_taps[axis], axis)
    if out is x.data:
        out = out.copy()

    # Backward sends each output's gradient to its sources: a scatter with repeats, done as a
    # GEMM with the transposed tap matrix (a scatter-add in NumPy is many times slower).
    transposed = [
        (axis, _tap_matrix(backward_taps[axis], spatial[axis], x.dtype).T)
        for axis in range(-n, 0)
        if not _is_identity(backward_taps[axis], spatial[axis])
    ]

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        for axis, matrix in transposed:
            grad = matmul_along_axis(grad, matrix, axis)
        return (np.ascontiguousarray(grad),)

    return Tensor.from_op(out, (x,), backward)


# --- pixel shuffle ----------------------------------------------------------------------------
# Both are one reshape-transpose-reshape; backward is the other one.
_TO_SHUFFLED = (0, 3, 1, 4, 2)  # (c, r, r, h, w) -> (c, h, r, w, r)
_FROM_SHUFFLED = (0, 2, 4, 1, 3)  # (c, h, r, w, r) -> (c, r, r, h, w)


def _rearrange(data: np.ndarray, split: Ints, order: Ints, merged: Ints) -> np.ndarray:
    """Reshape the last 3 axes to the 5 of ``split``, permute them, reshape to ``merged``."""
    batch = data.shape[:-3]
    axes = tuple(range(len(batch))) + tuple(len(batch) + axis for axis in order)
    parts = data.reshape(batch + split).transpose(axes)
    return np.ascontiguousarray(parts).reshape(batch + merged)


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(..., C*r*r, H, W) -> (..., C, H*r, W*r)."""
    r = upscale_factor
    channels, height, width = x.shape[-3:]
    c = channels // (r * r)
    out = _rearrange(x.data, (c, r, r, height, width), _TO_SHUFFLED, (c, height * r, width * r))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (
            _rearrange(grad, (c, height, r, width, r), _FROM_SHUFFLED, (channels, height, width)),
        )

    return Tensor.from_op(out, (x,), backward)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """(..., C, H*r, W*r) -> (..., C*r*r, H, W)."""
    r = downscale_factor
    channels, height, width = x.shape[-3:]
    h, w = height // r, width // r
    out = _rearrange(x.data, (channels, h, r, w, r), _FROM_SHUFFLED, (channels * r * r, h, w))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_rearrange(grad, (channels, r, r, h, w), _TO_SHUFFLED, (channels, height, width)),)

    return Tensor.from_op(out, (x,), backward)
