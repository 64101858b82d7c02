"""Max, average and adaptive pooling and max-unpooling: forward and backward side by side.

All ops pool over the last ``n`` axes (``n = len(kernel_size)``, 1 to 3); every axis before
them is a batch axis, so ``(N, C, H, W)`` and unbatched ``(C, H, W)`` take the same path.

Sliding windows are never materialised. A window position is a kernel offset ``j`` (one per
spatial axis); for each offset, the input elements it picks for all outputs at once form a
strided view ``padded[..., j*d : j*d + (o-1)*s + 1 : s]`` of the output's shape. Pooling is a
loop over the ``prod(kernel_size)`` offsets, each a handful of whole-array NumPy operations;
large batches are split into one part per thread (``cnnkit.set_num_threads``), and each part is
worked through in blocks of planes small enough to stay in the L2 cache: all offsets of a block
are done before the next block is read, so the input streams from memory once, not once per
offset. Padding happens block by block too, in a small scratch buffer.

Max pooling follows PyTorch's CPU kernels exactly: within a window the first maximum in
row-major order wins, a NaN wins over anything (the last NaN, since ``val > max or isnan(val)``
updates on every NaN), padding never wins, and a window of ``-inf`` reports its first
position inside the input. Indices are flat positions within each channel's spatial plane.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from types import EllipsisType
from typing import NamedTuple

import numpy as np

from cnnkit.arithmetic.shapes import pool_output_size
from cnnkit.ops._parallel import get_num_threads, parallel_map, single_threaded_blas
from cnnkit.tensor import Tensor, is_grad_enabled

__all__ = ["adaptive_avg_pool", "adaptive_max_pool", "avg_pool", "max_pool", "max_unpool"]

Ints = tuple[int, ...]
_MIN_PART_WORK = 1 << 17
# Padded input bytes per block: the block, its output, codes and temporaries stay in the L2/L3
# caches. Smaller blocks cost Python overhead per block; 32 KiB to 1 MiB measured on a 2-core
# EPYC (512 KiB L2): 1 MiB was fastest, 32 KiB up to 2x slower (docs/performance.md).
_BLOCK_BYTES = 1 << 20


# --- window geometry --------------------------------------------------------------------------
def _outer(vectors: list[np.ndarray], combine: np.ufunc) -> np.ndarray:
    """Combine one vector per spatial axis into an array of shape (len(v0), len(v1), ...)."""
    return functools.reduce(combine, np.ix_(*vectors))


def _inside(padding: Ints, spatial: Ints) -> tuple[EllipsisType | slice, ...]:
    """The index of the unpadded data inside a padded array."""
    return (Ellipsis,) + tuple(slice(p, p + i) for p, i in zip(padding, spatial, strict=True))


def _blocks(part: slice, plane_elements: int, itemsize: int) -> Iterator[slice]:
    """``part`` (a slice of rows, i.e. planes) cut into blocks of about ``_BLOCK_BYTES``."""
    step = max(1, _BLOCK_BYTES // max(1, plane_elements * itemsize))
    for start in range(part.start, part.stop, step):
        yield slice(start, min(start + step, part.stop))


class _BlockPadder:
    """Pads blocks of rows into one reused scratch buffer (or passes them through unpadded).

    ``padded_size`` covers left and right padding plus any ceil-mode overhang; where it equals
    the input size the rows themselves are returned, no copy.
    """

    def __init__(self, rows: np.ndarray, padding: Ints, padded_size: Ints, fill: float) -> None:
        n = len(padded_size)
        self.rows, self.fill = rows, fill
        self.needed = tuple(padded_size) != rows.shape[-n:]
        self.inside = _inside(padding, rows.shape[-n:])
        self.plane_elements = math.prod(padded_size)
        self.padded_size = tuple(padded_size)

    def blocks(self, part: slice) -> Iterator[tuple[slice, np.ndarray]]:
        """(block, padded rows of the block) for each block of ``part``."""
        blocks = list(_blocks(part, self.plane_elements, self.rows.itemsize))
        if not self.needed or not blocks:  # (no blocks: an empty batch)
            yield from ((block, self.rows[block]) for block in blocks)
            return
        scratch = np.empty((blocks[0].stop - blocks[0].start,) + self.padded_size, self.rows.dtype)
        for block in blocks:
            padded = scratch[: block.stop - block.start]
            padded.fill(self.fill)
            padded[self.inside] = self.rows[block]
            yield block, padded


def _padded_size(
    spatial: Ints, out_spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints
) -> Ints:
    """Per axis: left and right padding, plus the overhang of a ceil-mode last window."""
    return tuple(
        max(i + 2 * p, (o - 1) * s + (k - 1) * d + 1)
        for i, o, k, s, p, d in zip(
            spatial, out_spatial, kernel, stride, padding, dilation, strict=True
        )
    )


def _offset_slices(
    out_spatial: Ints, kernel: Ints, stride: Ints, dilation: Ints
) -> Iterator[tuple[EllipsisType | slice, ...]]:
    """For each kernel offset in row-major order, the index of its strided view."""
    for offset in itertools.product(*(range(k) for k in kernel)):
        yield (Ellipsis,) + tuple(
            slice(j * d, j * d + (o - 1) * s + 1, s)
            for j, o, s, d in zip(offset, out_spatial, stride, dilation, strict=True)
        )


def _route_order(kernel: Ints, stride: Ints, dilation: Ints) -> tuple[list[int], list[int]]:
    """Offsets whose gradient can be assigned into a zeroed buffer, and those that must add.

    Offset ``j`` writes input positions ``j*d + s*i``. Offsets that differ on some axis by less
    than the stride hit disjoint positions, so one offset per residue class ``j*d mod s`` (the
    first such, per axis) is assigned; the others, done after them, accumulate. Without
    overlapping windows every offset is assigned.
    """
    assigned, accumulated = [], []
    for code, offset in enumerate(itertools.product(*(range(k) for k in kernel))):
        first_of_class = all(
            all((i * d) % s != (j * d) % s for i in range(j))
            for j, s, d in zip(offset, stride, dilation, strict=True)
        )
        (assigned if first_of_class else accumulated).append(code)
    return assigned, accumulated


def _windows_tile(
    spatial: Ints, out_spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints
) -> bool:
    """Whether the windows cover every input element exactly once (then the backward's
    assignments write the whole gradient and it needs no zeroing)."""
    return all(
        d == 1 and s == k and p == 0 and o * k == i
        for i, o, k, s, p, d in zip(
            spatial, out_spatial, kernel, stride, padding, dilation, strict=True
        )
    )


class _WindowPlan(NamedTuple):
    """Everything about the windows that depends on the shapes only (cached per geometry)."""

    out_spatial: Ints
    padded_size: Ints
    slices: tuple[tuple[EllipsisType | slice, ...], ...]
    assigned: tuple[int, ...]
    accumulated: tuple[int, ...]
    tiled: bool


@functools.lru_cache(maxsize=256)
def _window_plan(
    spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints, ceil_mode: bool
) -> _WindowPlan:
    """The plan of a pooling geometry; cached, because small inputs spend more time planning
    than pooling."""
    out_spatial = tuple(
        pool_output_size(i, k, s, p, d, ceil_mode)
        for i, k, s, p, d in zip(spatial, kernel, stride, padding, dilation, strict=True)
    )
    assigned, accumulated = _route_order(kernel, stride, dilation)
    return _WindowPlan(
        out_spatial,
        _padded_size(spatial, out_spatial, kernel, stride, padding, dilation),
        tuple(_offset_slices(out_spatial, kernel, stride, dilation)),
        tuple(assigned),
        tuple(accumulated),
        _windows_tile(spatial, out_spatial, kernel, stride, padding, dilation),
    )


def _row_parts(rows: int, work: int) -> list[slice]:
    """Split the (flattened) batch rows into one part per thread when there is enough work.

    ``work`` counts element reads; parts below ``_MIN_PART_WORK`` are not worth a thread.
    """
    count = max(1, min(get_num_threads(), rows, work // _MIN_PART_WORK))
    bounds = [rows * part // count for part in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _has_nan(data: np.ndarray) -> bool:
    """Cheap NaN test: one vectorised sum. A false alarm (inf - inf) only takes the slow path.

    ``einsum`` sums 3x faster than ``np.sum`` (no pairwise summation; accuracy is moot here).
    """
    return bool(np.isnan(np.einsum(data, list(range(data.ndim)), [])))


def _code_dtype(count: int) -> np.dtype:
    """The smallest integer type that holds window-offset codes 0..count-1."""
    return np.dtype(np.int8) if count <= 127 else np.dtype(np.int32)


def _argmax_update(
    best: np.ndarray, code: np.ndarray, candidate: np.ndarray, offset: int, nan_aware: bool
) -> None:
    """PyTorch's ``if (val > max || isnan(val)) {max = val; index = offset}``, for all windows.

    Branch-free, because masked assignment costs a mispredicted branch per element (10x
    slower): ``np.maximum`` gives the same values (NaN propagates as in PyTorch), and as
    offsets arrive in increasing order, the updated code is ``max(code, offset * better)``.
    """
    better = np.greater(candidate, best)
    if nan_aware:
        better |= np.isnan(candidate)
    np.maximum(best, candidate, out=best)
    np.maximum(code, np.multiply(better, offset, dtype=code.dtype), out=code)


def _scatter_add(values: np.ndarray, flat_index: np.ndarray, plane_shape: Ints) -> np.ndarray:
    """Sum ``values`` into zero planes of ``plane_shape`` at per-plane flat positions.

    ``values`` and ``flat_index`` have shape (..., *out_spatial); the result has shape
    (..., *plane_shape). Positions may repeat (overlapping windows); they accumulate.
    """
    n = len(plane_shape)
    batch = values.shape[: values.ndim - n]
    plane = int(np.prod(plane_shape))
    rows = int(np.prod(batch))
    outputs = int(np.prod(flat_index.shape[flat_index.ndim - n :]))
    index = flat_index.reshape(rows, outputs) + (np.arange(rows, dtype=np.int64) * plane)[:, None]
    summed = np.bincount(index.ravel(), weights=values.ravel(), minlength=rows * plane)
    return summed.astype(values.dtype, copy=False).reshape(batch + tuple(plane_shape))


# --- max pooling ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _first_valid_code(
    out_spatial: Ints, kernel: Ints, stride: Ints, padding: Ints, dilation: Ints
) -> np.ndarray:
    """Per output, the code of its window's first offset inside the input (not in padding).

    Cached and shared between calls, hence read-only.
    """
    code_strides = np.cumprod((1,) + kernel[:0:-1])[::-1]
    firsts = []
    for o, s, p, d, step in zip(out_spatial, stride, padding, dilation, code_strides, strict=True):
        start = np.arange(o) * s - p
        firsts.append(np.maximum(0, (-start + d - 1) // d) * step)
    codes = _outer(firsts, np.add)
    codes.flags.writeable = False
    return codes


def _codes_to_indices(
    code: np.ndarray,
    spatial: Ints,
    out_spatial: Ints,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
) -> np.ndarray:
    """Kernel-offset codes -> flat positions within the unpadded spatial plane (int64)."""
    code = code.astype(np.int64)
    n = len(kernel)
    flat = np.zeros(code.shape, dtype=np.int64)
    remainder = code
    for axis in range(n - 1, -1, -1):
        remainder, j = np.divmod(remainder, kernel[axis])
        shape = [1] * n
        shape[axis] = out_spatial[axis]
        start = (np.arange(out_spatial[axis]) * stride[axis] - padding[axis]).reshape(shape)
        position = start + j * dilation[axis]
        flat += position * int(np.prod(spatial[axis + 1 :]))
    return flat


def max_pool(
    x: Tensor,
    kernel_size: Ints,
    stride: Ints,
    padding: Ints,
    dilation: Ints,
    ceil_mode: bool,
    return_indices: bool,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling over the last ``len(kernel_size)`` axes; optionally also the argmax indices."""
    n = len(kernel_size)
    spatial = x.shape[-n:]
    plan = _window_plan(spatial, kernel_size, stride, padding, dilation, ceil_mode)
    out_spatial, padded_size, slices = plan.out_spatial, plan.padded_size, plan.slices
    rows = x.data.reshape((-1,) + spatial)
    padder = _BlockPadder(rows, padding, padded_size, -np.inf)
    best = np.empty((len(rows),) + out_spatial, dtype=x.dtype)
    parts = _row_parts(len(rows), best.size * len(slices))

    if not return_indices and not (is_grad_enabled() and x.requires_grad):

        def maximum_rows(part: slice) -> None:
            # Values only: np.maximum propagates NaN exactly like PyTorch's comparison does.
            for block, source in padder.blocks(part):
                target = best[block]
                np.copyto(target, source[slices[0]])
                for index in slices[1:]:
                    np.maximum(target, source[index], out=target)

        parallel_map(maximum_rows, parts)
        return Tensor(best.reshape(x.shape[:-n] + out_spatial))

    code = np.empty(best.shape, dtype=_code_dtype(len(slices)))
    nan_aware = _has_nan(x.data)
    first_code = _first_valid_code(out_spatial, kernel_size, stride, padding, dilation)

    def argmax_rows(part: slice) -> None:
        for block, source in padder.blocks(part):
            target, target_code = best[block], code[block]
            if any(padding):
                target[...] = -np.inf
                target_code[...] = first_code
                start = 0
            else:  # the first offset lies inside the input for every window: start from it
                np.copyto(target, source[slices[0]])
                target_code[...] = 0
                start = 1
            for offset in range(start, len(slices)):
                _argmax_update(target, target_code, source[slices[offset]], offset, nan_aware)

    parallel_map(argmax_rows, parts)
    assigned, accumulated, tiled = plan.assigned, plan.accumulated, plan.tiled

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        grad_rows = grad.reshape(code.shape)
        grad_input = np.empty(rows.shape, dtype=grad.dtype)
        unpadder = _BlockPadder(grad_input, padding, padded_size, 0.0)

        def route_rows(part: slice) -> None:
            for block, target in unpadder.blocks(part):
                if not tiled:
                    target.fill(0)
                source, source_code = grad_rows[block], code[block]
                for offset in assigned:
                    np.multiply(source, source_code == offset, out=target[slices[offset]])
                for offset in accumulated:
                    target[slices[offset]] += source * (source_code == offset)
                grad_input[block] = target[unpadder.inside]

        parallel_map(route_rows, parts)
        return (grad_input.reshape(x.shape),)

    batch = x.shape[:-n]
    out = Tensor.from_op(best.reshape(batch + out_spatial), (x,), backward)
    if not return_indices:
        return out
    indices = _codes_to_indices(code, spatial, out_spatial, kernel_size, stride, padding, dilation)
    return out, Tensor(indices.reshape(batch + out_spatial))


# --- average pooling --------------------------------------------------------------------------
def _avg_divisor(
    spatial: Ints,
    out_spatial: Ints,
    kernel: Ints,
    stride: Ints,
    padding: Ints,
    count_include_pad: bool,
    divisor_override: int | None,
    dtype: np.dtype,
) -> np.ndarray:
    """Per-output divisor, PyTorch's rule.

    A window counts the padding it covers when ``count_include_pad``, but never the overhang of
    a ceil-mode window past the right padding. Both counts are products over the axes.
    """
    if divisor_override is not None:
        return np.asarray(divisor_override, dtype=dtype)
    counts = []
    for i, o, k, s, p in zip(spatial, out_spatial, kernel, stride, padding, strict=True):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, i + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, i) - np.maximum(start, 0))
    return _outer(counts, np.multiply).astype(dtype)


def avg_pool(
    x: Tensor,
    kernel_size: Ints,
    stride: Ints,
    padding: Ints,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    """Average pooling over the last ``len(kernel_size)`` axes."""
    n = len(kernel_size)
    spatial = x.shape[-n:]
    plan = _window_plan(spatial, kernel_size, stride, padding, (1,) * n, ceil_mode)
    out_spatial, padded_size, slices = plan.out_spatial, plan.padded_size, plan.slices
    rows = x.data.reshape((-1,) + spatial)
    padder = _BlockPadder(rows, padding, padded_size, 0.0)
    divisor = _avg_divisor(
        spatial,
        out_spatial,
        kernel_size,
        stride,
        padding,
        count_include_pad,
        divisor_override,
        x.dtype,
    )
    out = np.empty((len(rows),) + out_spatial, dtype=x.dtype)
    parts = _row_parts(len(rows), out.size * len(slices))

    def average_rows(part: slice) -> None:
        for block, source in padder.blocks(part):
            target = out[block]
            np.copyto(target, source[slices[0]])
            for index in slices[1:]:
                np.add(target, source[index], out=target)
            np.divide(target, divisor, out=target)

    parallel_map(average_rows, parts)
    assigned, accumulated, tiled = plan.assigned, plan.accumulated, plan.tiled

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        grad_rows = grad.reshape(out.shape)
        grad_input = np.empty(rows.shape, dtype=grad.dtype)
        unpadder = _BlockPadder(grad_input, padding, padded_size, 0.0)

        def spread_rows(part: slice) -> None:
            for block, target in unpadder.blocks(part):
                if not tiled:
                    target.fill(0)
                source = grad_rows[block] / divisor
                for offset in assigned:
                    target[slices[offset]] = source
                for offset in accumulated:
                    target[slices[offset]] += source
                grad_input[block] = target[unpadder.inside]

        parallel_map(spread_rows, parts)
        return (grad_input.reshape(x.shape),)

    return Tensor.from_op(out.reshape(x.shape[:-n] + out_spatial), (x,), backward)


# --- adaptive pooling -------------------------------------------------------------------------
def _adaptive_bins(input_size: int, output_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin j covers [floor(j*i/o), ceil((j+1)*i/o)); bins may overlap. Returns (start, end)."""
    j = np.arange(output_size)
    return (j * input_size) // output_size, -((-(j + 1) * input_size) // output_size)


def _averaging_matrix(input_size: int, output_size: int, dtype: np.dtype) -> np.ndarray:
    """(o, i) matrix whose row j averages bin j: adaptive average pooling along one axis."""
    start, end = _adaptive_bins(input_size, output_size)
    positions = np.arange(input_size)
    member = (positions >= start[:, None]) & (positions < end[:, None])
    return (member / (end - start)[:, None]).astype(dtype)


def matmul_along_axis(data: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Apply ``matrix`` (o, i) to the negative axis ``axis`` (size i) of ``data``: a GEMM.

    ``matrix`` is small (a few nonzeros per row), so the product is bound by memory and runs
    with BLAS at one thread (``single_threaded_blas``).
    """
    with single_threaded_blas():
        if axis == -1:
            return data @ matrix.T
        trailing = int(np.prod(data.shape[data.ndim + axis + 1 :]))
        moved = data.reshape(data.shape[: data.ndim + axis + 1] + (trailing,))
        result = matrix @ moved
    return result.reshape(
        data.shape[: data.ndim + axis] + (matrix.shape[0],) + data.shape[data.ndim + axis + 1 :]
    )


def adaptive_avg_pool(x: Tensor, output_size: Ints) -> Tensor:
    """Adaptive average pooling of the last ``len(output_size)`` axes to ``output_size``.

    Bin averages factor into one averaging matrix per axis, so the op is a chain of GEMMs.
    """
    n = len(output_size)
    spatial = x.shape[-n:]
    axes = tuple(range(-n, 0))
    if all(o == 1 for o in output_size):  # global average pooling
        out = x.data.mean(axis=axes, keepdims=True)

        def backward_global(grad: np.ndarray) -> tuple[np.ndarray]:
            share = grad / np.asarray(np.prod(spatial), dtype=grad.dtype)
            return (np.broadcast_to(share, x.shape).copy(),)

        return Tensor.from_op(out, (x,), backward_global)

    # An axis whose size does not change has one-element bins: nothing to do there.
    matrices = [
        (axis, _averaging_matrix(i, o, x.dtype))
        for axis, i, o in zip(axes, spatial, output_size, strict=True)
        if i != o
    ]
    out = x.data
    for axis, matrix in matrices:
        out = matmul_along_axis(out, matrix, axis)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        for axis, matrix in matrices:
            grad = matmul_along_axis(grad, matrix.T, axis)
        return (np.ascontiguousarray(grad),)

    return Tensor.from_op(np.ascontiguousarray(out), (x,), backward)


def adaptive_max_pool(
    x: Tensor, output_size: Ints, return_indices: bool
) -> Tensor | tuple[Tensor, Tensor]:
    """Adaptive max pooling of the last ``len(output_size)`` axes; optionally the indices.

    Bins differ in length, so each axis gets one extra ``-inf`` element; step ``t`` of a bin
    shorter than ``t + 1`` points at it. A loop over the steps then works like ``max_pool``.
    """
    n = len(output_size)
    spatial = x.shape[-n:]
    batch = x.shape[:-n]
    bins = [_adaptive_bins(i, o) for i, o in zip(spatial, output_size, strict=True)]
    steps = [int(np.max(end - start, initial=0)) for start, end in bins]
    padded = np.full(batch + tuple(i + 1 for i in spatial), -np.inf, dtype=x.dtype)
    padded[_inside((0,) * n, spatial)] = x.data
    nan_aware = _has_nan(x.data)

    best = np.full(batch + tuple(output_size), -np.inf, dtype=x.dtype)
    # Code 0 (step 0 on every axis) is the bin's first element: PyTorch's initial index.
    code = np.zeros(batch + tuple(output_size), dtype=_code_dtype(int(np.prod(steps))))
    for offset, step in enumerate(itertools.product(*(range(count) for count in steps))):
        picks = [
            np.where(t < end - start, start + t, i)
            for t, (start, end), i in zip(step, bins, spatial, strict=True)
        ]
        _argmax_update(best, code, padded[(Ellipsis, *np.ix_(*picks))], offset, nan_aware)

    flat = np.zeros(code.shape, dtype=np.int64)
    remainder = code.astype(np.int64)
    for axis in range(n - 1, -1, -1):
        remainder, t = np.divmod(remainder, steps[axis])
        shape = [1] * n
        shape[axis] = output_size[axis]
        flat += (bins[axis][0].reshape(shape) + t) * int(np.prod(spatial[axis + 1 :]))

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (_scatter_add(grad, flat, spatial),)

    out = Tensor.from_op(best, (x,), backward)
    return (out, Tensor(flat)) if return_indices else out


# --- max unpooling ----------------------------------------------------------------------------
def max_unpool(x: Tensor, indices: Tensor, output_size: Ints) -> Tensor:
    """Place each value of ``x`` at its flat per-plane position ``indices`` in zero planes.

    The inverse of ``max_pool(..., return_indices=True)``. Where an index repeats, one of the
    values lands there (which one is unspecified, in PyTorch too).
    """
    n = len(output_size)
    batch = x.shape[:-n]
    rows = int(np.prod(batch))
    plane = int(np.prod(output_size))
    row_index = np.arange(rows)[:, None]
    pooled = int(np.prod(x.shape[-n:]))
    column_index = indices.data.reshape(rows, pooled)
    out = np.zeros((rows, plane), dtype=x.dtype)
    out[row_index, column_index] = x.data.reshape(rows, pooled)

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        return (grad.reshape(rows, plane)[row_index, column_index].reshape(x.shape),)

    return Tensor.from_op(out.reshape(batch + tuple(output_size)), (x,), backward)
