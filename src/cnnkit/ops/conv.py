"""N-d convolution, transposed convolution, im2col (unfold), col2im (fold): fwd and bwd.

Layout. The kernels work channels-last: an (N, C, *S) input is copied once into a zero-padded
(N, *S, C) array, so an im2col row (one kernel window over the channels of a group) is a few
contiguous runs and the GEMM result (rows N*prod(O), columns out-channels) is channels-last
too. The result is handed back as an (N, C, *O) *view* of that array; the next convolution
views it as channels-last again without a copy.

Work. im2col is built in pieces of about one L2 cache into a reused buffer, and the GEMM
consumes each piece while it is hot: the whole im2col matrix of a batch never exists. The
batch is split between threads (``_parallel.parallel_map``); a single image is split over its
output rows instead, and work too small to split runs its GEMMs with BLAS at one thread.

A 1x1, stride-1 convolution of a contiguous NCHW array skips all of this: per-sample matrix
products (C_out, C_in) @ (C_in, H*W) read and write NCHW directly.

Gradients. conv's input gradient is, at stride 1 when out/groups <= in/groups (or 1x1), a
convolution of the padded output gradient with the flipped weight; otherwise a GEMM followed
by col2im (a loop over kernel offsets), whichever moves fewer values. Its weight gradient
is im2col(input)^T @ grad, piece by piece. The transposed
convolution is the adjoint of a convolution, so it reuses the same three kernels: its forward
is conv's input gradient, its input gradient is conv's forward, its weight gradient is conv's
weight gradient with input and output swapped. Depthwise convolutions (one input channel per
group) skip the GEMM: a loop over kernel offsets with broadcast multiply-adds.

Weights inside the kernels have the "GEMM layout" (groups, *K, in/groups, out/groups): for
each group a (prod(K) * in/groups, out/groups) matrix whose rows match the im2col columns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from cnnkit.arithmetic.shapes import conv_output_size, conv_transpose_output_size
from cnnkit.ops._parallel import (
    get_num_threads,
    parallel_map,
    single_threaded_blas,
    small_gemm_blas,
)
from cnnkit.tensor import Tensor

__all__ = ["conv", "conv_transpose", "fold", "unfold"]

_CHUNK_BYTES = 1 << 20  # one im2col piece: about the 1 MiB L2 cache of a core
_MIN_PARALLEL_BYTES = 1 << 18  # below this much work, threads cost more than they save
# A single image is split over rows only from ~16 MFLOP: below that, under load, waking a
# second thread for every convolution of a batch-1 forward cost more than it saved.
_MIN_ROW_SPLIT_BYTES = 1 << 25
_PAGE_BYTES = 4096
_TRANSPOSE_BLOCK = 8  # channels copied together when transposing NCHW -> NHWC
_NARROW_CHANNELS = 3  # inputs with this few channels use the channel-major im2col

Chunk = tuple[int, int, int, int]  # samples n0:n1, first output dim r0:r1
Part = TypeVar("Part")
Result = TypeVar("Result")


class _Geometry(NamedTuple):  # a tuple: hashed in C, for the caches below
    """Per spatial dimension: kernel size, stride, dilation, zero padding before and after."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]

    def output_size(self, input_size: Sequence[int]) -> tuple[int, ...]:
        return _output_size(self, tuple(input_size))


# Geometry and sizes are cached: at batch 1 building them cost ~12 us of a ~150 us convolution.
@functools.lru_cache(maxsize=512)
def _output_size(geometry: _Geometry, input_size: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(
        conv_output_size(i + b + a, k, s, 0, d)
        for i, k, s, d, b, a in zip(
            input_size,
            geometry.kernel,
            geometry.stride,
            geometry.dilation,
            geometry.pad_before,
            geometry.pad_after,
            strict=True,
        )
    )


@functools.lru_cache(maxsize=512)
def _conv_geometry(
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
) -> _Geometry:
    before, after = zip(*padding, strict=True)
    return _Geometry(kernel, stride, dilation, before, after)


# --- layout helpers -------------------------------------------------------------------------
# plain transposes: np.moveaxis costs ~7 us a call, which shows at batch 1
def _channels_last(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, *range(2, x.ndim), 1)


def _channels_first(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, x.ndim - 1, *range(1, x.ndim - 1))


def _pad(x: np.ndarray, before: Sequence[int], after: Sequence[int]) -> np.ndarray:
    """Channels-last ``x`` (N, *S, C) zero-padded per spatial dim, contiguous.

    Negative amounts crop. Returns ``x`` itself when it is contiguous and nothing changes.
    The copy (usually also an NCHW -> NHWC transpose) is split between the threads.
    """
    if not any(before) and not any(after) and x.flags.c_contiguous:
        return x
    padded, source, target = _pad_slices(x.shape[1:-1], tuple(before), tuple(after))
    out = np.empty((x.shape[0], *padded, x.shape[-1]), dtype=x.dtype)
    # only the border is zeroed: np.zeros would write the whole array once more (freed memory
    # is kept for reuse, so it is not fresh zero pages from the kernel)
    for dim, (size, inside) in enumerate(zip(padded, target, strict=True), start=1):
        for border in (slice(0, inside.start), slice(inside.stop, size)):
            if border.start < border.stop:
                out[(slice(None),) * dim + (border,)] = 0
    channels = x.shape[-1]
    if x.strides[-1] < _PAGE_BYTES or channels <= _TRANSPOSE_BLOCK:
        if x.shape[0] == 1:  # one part: no closure, no thread pool (matters at batch 1)
            out[(slice(None), *target)] = x[(slice(None), *source)]
            return out

        def fill(samples: range) -> None:
            out[(slice(samples.start, samples.stop), *target)] = x[
                (slice(samples.start, samples.stop), *source)
            ]

    else:
        # Channels a page or more apart (an NCHW source): NumPy's element order would touch a
        # new page per element; a few channels of one sample at a time stay within the TLB.
        def fill(samples: range) -> None:
            for n in samples:
                for c in range(0, channels, _TRANSPOSE_BLOCK):
                    block = slice(c, c + _TRANSPOSE_BLOCK)
                    out[(n, *target, block)] = x[(n, *source, block)]

    parallel_map(fill, _split_batch(x.shape[0], out.nbytes))
    return out


@functools.lru_cache(maxsize=512)
def _pad_slices(
    spatial: tuple[int, ...], before: tuple[int, ...], after: tuple[int, ...]
) -> tuple[list[int], tuple[slice, ...], tuple[slice, ...]]:
    """Padded spatial size, and the slices of the input that are copied where into it."""
    padded = [s + b + a for s, b, a in zip(spatial, before, after, strict=True)]
    source, target = [], []
    for size, b, a in zip(spatial, before, after, strict=True):
        start, stop = max(-b, 0), max(size - max(-a, 0), max(-b, 0))
        source.append(slice(start, stop))
        target.append(slice(max(b, 0), max(b, 0) + stop - start))
    return padded, tuple(source), tuple(target)


def _to_gemm_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(out, in/groups, *K) -> (groups, *K, in/groups, out/groups), contiguous."""
    out_channels, in_per_group, *kernel = weight.shape
    d = len(kernel)
    grouped = weight.reshape(groups, out_channels // groups, in_per_group, *kernel)
    return np.ascontiguousarray(grouped.transpose(0, *range(3, 3 + d), 2, 1))


def _from_gemm_weight(weight: np.ndarray) -> np.ndarray:
    """Inverse of ``_to_gemm_weight``."""
    groups, *kernel, in_per_group, out_per_group = weight.shape
    d = len(kernel)
    standard = weight.transpose(0, d + 2, d + 1, *range(1, d + 1))
    return np.ascontiguousarray(standard).reshape(groups * out_per_group, in_per_group, *kernel)


def _windows(xp: np.ndarray, geometry: _Geometry, out_size: Sequence[int]) -> np.ndarray:
    """Read-only view (N, *O, *K, C) of the padded channels-last ``xp``: every kernel window."""
    xp = np.ascontiguousarray(xp)  # a no-op for ``_pad``'s results; the view below needs it
    # the ndarray constructor instead of as_strided: a third of its ~8 us per call
    windows = np.ndarray(
        (xp.shape[0], *out_size, *geometry.kernel, xp.shape[-1]),
        xp.dtype,
        buffer=xp,
        strides=_window_strides(xp.strides, geometry),
    )
    windows.flags.writeable = False
    return windows


@functools.lru_cache(maxsize=512)
def _window_strides(strides: tuple[int, ...], geometry: _Geometry) -> tuple[int, ...]:
    spatial = strides[1:-1]
    return (
        strides[0],
        *(st * s for st, s in zip(spatial, geometry.stride, strict=True)),
        *(st * d for st, d in zip(spatial, geometry.dilation, strict=True)),
        strides[-1],
    )


def _tap_slices(
    offset: Sequence[int], geometry: _Geometry, out_size: Sequence[int], first: tuple[int, int]
) -> tuple[slice, ...]:
    """Spatial slices of the padded input that kernel offset ``offset`` reads for outputs
    ``first[0]:first[1]`` of the first dim and all outputs of the others."""
    slices = []
    for dim, (k, s, d) in enumerate(zip(offset, geometry.stride, geometry.dilation, strict=True)):
        lo, hi = first if dim == 0 else (0, out_size[dim])
        start = lo * s + k * d
        slices.append(slice(start, start + (hi - lo - 1) * s + 1, s))
    return tuple(slices)


# --- work splitting ---------------------------------------------------------------------------
def _split_batch(batch: int, work_bytes: int) -> list[range]:
    """Contiguous sample ranges, one per thread (one range when the work is small)."""
    threads = 1 if work_bytes < _MIN_PARALLEL_BYTES else max(1, min(get_num_threads(), batch))
    bounds = [batch * t // threads for t in range(threads + 1)]
    return [range(bounds[t], bounds[t + 1]) for t in range(threads)]


def _split_outputs(
    batch: int, out_rows: int, work_bytes: int, *, by_rows: bool = True
) -> tuple[Chunk, ...]:
    """Parts (n0, n1, r0, r1) of samples x first output dim, one per thread.

    Contiguous sample ranges; a single image (``by_rows``: when parts may write overlapping
    input rows, they may not) is split over its ``out_rows`` output rows instead, so that
    batch-1 inference uses every thread without BLAS threads.
    """
    return _cached_split(
        batch, out_rows, work_bytes, by_rows, get_num_threads(), _MIN_PARALLEL_BYTES,
        _MIN_ROW_SPLIT_BYTES,
    )  # fmt: skip


# The plans below are cached (with the settings they read as part of the key, so that tests
# may change them): at batch 1, computing them cost ~10 us of a ~150 us convolution.
@functools.lru_cache(maxsize=1024)
def _cached_split(
    batch: int,
    out_rows: int,
    work_bytes: int,
    by_rows: bool,
    threads: int,
    min_parallel_bytes: int,
    min_row_split_bytes: int,
) -> tuple[Chunk, ...]:
    threads = 1 if work_bytes < min_parallel_bytes else threads
    if batch == 1 and by_rows and work_bytes >= min_row_split_bytes:
        threads = min(threads, out_rows)
        bounds = [out_rows * t // threads for t in range(threads + 1)]
        return tuple((0, 1, bounds[t], bounds[t + 1]) for t in range(threads))
    threads = max(1, min(threads, batch))
    bounds = [batch * t // threads for t in range(threads + 1)]
    return tuple((bounds[t], bounds[t + 1], 0, out_rows) for t in range(threads))


def _run_parts(
    function: Callable[[Part], Result], parts: Sequence[Part], flops: int
) -> list[Result]:
    """``function`` over ``parts`` in parallel; one part alone with BLAS at one thread if small."""
    if len(parts) == 1:
        with small_gemm_blas(flops):
            return [function(parts[0])]
    return parallel_map(function, parts)


def _chunks(part: Chunk, out_size: Sequence[int], row_bytes: int) -> tuple[Chunk, ...]:
    """Pieces (n0, n1, r0, r1) of a part (samples x first output dim), each about
    ``_CHUNK_BYTES``."""
    return _cached_chunks(part, tuple(out_size), row_bytes, _CHUNK_BYTES)


@functools.lru_cache(maxsize=1024)
def _cached_chunks(
    part: Chunk, out_size: tuple[int, ...], row_bytes: int, chunk_bytes: int
) -> tuple[Chunk, ...]:
    n0, n1, r0, r1 = part
    line_bytes = max(row_bytes * math.prod(out_size[1:]), 1)
    sample_bytes = line_bytes * out_size[0]
    if sample_bytes <= chunk_bytes and r1 - r0 == out_size[0]:
        step = max(1, chunk_bytes // max(sample_bytes, 1))
        return tuple((n, min(n + step, n1), r0, r1) for n in range(n0, n1, step))
    lines = max(1, chunk_bytes // line_bytes)
    return tuple(
        (n, n + 1, r, min(r + lines, r1)) for n in range(n0, n1) for r in range(r0, r1, lines)
    )


def _chunk_rows(chunk: Chunk, out_size: Sequence[int]) -> int:
    n0, n1, r0, r1 = chunk
    return (n1 - n0) * (r1 - r0) * math.prod(out_size[1:])


def _piece_buffer(
    chunks: Sequence[Chunk], out_size: Sequence[int], row_length: int, dtype: np.dtype
) -> np.ndarray:
    """One buffer, reused for every piece, big enough for the largest."""
    rows = max((_chunk_rows(c, out_size) for c in chunks), default=0)
    return np.empty(rows * row_length, dtype)


def _im2col_piece(
    windows: np.ndarray, chunk: Chunk, group: int, in_per_group: int, buffer: np.ndarray
) -> np.ndarray:
    """The (rows, prod(K) * in_per_group) im2col matrix of one piece and channel group."""
    n0, n1, r0, r1 = chunk
    channels = slice(group * in_per_group, (group + 1) * in_per_group)
    block = windows[n0:n1, r0:r1, ..., channels]
    d = (windows.ndim - 2) // 2
    rows, row_length = math.prod(block.shape[: d + 1]), math.prod(block.shape[d + 1 :])
    if block.flags.c_contiguous:  # 1x1 stride-1 kernels: the input already is the matrix
        return block.reshape(rows, row_length)
    columns = buffer[: rows * row_length].reshape(block.shape)
    np.copyto(columns, block)
    return columns.reshape(rows, row_length)


# --- dense kernels (GEMM) ---------------------------------------------------------------------
def _conv_cl(
    xp: np.ndarray,
    weight: np.ndarray,
    geometry: _Geometry,
    out_size: Sequence[int],
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Valid convolution of padded channels-last ``xp`` (N, *Sp, C): (N, *O, out) contiguous.

    ``bias`` (out,) is added piece by piece, while each piece of the output is in cache.
    """
    groups, *kernel, in_per_group, out_per_group = weight.shape
    if in_per_group == 1 and groups > 1:
        return _depthwise_cl(xp, weight, geometry, out_size, bias)
    batch, itemsize = xp.shape[0], xp.dtype.itemsize
    out = np.empty((batch, *out_size, groups * out_per_group), dtype=xp.dtype)
    windows = _windows(xp, geometry, out_size)
    row_length = math.prod(kernel) * in_per_group
    matrices = weight.reshape(groups, row_length, out_per_group)
    row_bytes = row_length * itemsize

    def run(part: Chunk) -> None:
        chunks = _chunks(part, out_size, row_bytes)
        buffer = _piece_buffer(chunks, out_size, row_length, xp.dtype)
        for chunk in chunks:
            n0, n1, r0, r1 = chunk
            rows = _chunk_rows(chunk, out_size)
            out_rows = out[n0:n1, r0:r1].reshape(rows, -1)
            for g in range(groups):
                columns = _im2col_piece(windows, chunk, g, in_per_group, buffer)
                target = out_rows[:, g * out_per_group : (g + 1) * out_per_group]
                np.matmul(columns, matrices[g], out=target)
            if bias is not None:
                out_rows += bias

    work = out.size * row_length * itemsize
    _run_parts(run, _split_outputs(batch, out_size[0], work), out.size * row_length * 2)
    return out


def _conv_weight_grad_cl(
    xp: np.ndarray, grad: np.ndarray, geometry: _Geometry, weight_shape: Sequence[int]
) -> np.ndarray:
    """d(weight) in GEMM layout from padded channels-last input and output gradient."""
    groups, *kernel, in_per_group, out_per_group = weight_shape
    if in_per_group == 1 and groups > 1:
        return _depthwise_weight_grad_cl(xp, grad, geometry, weight_shape)
    batch, *out_size, _ = grad.shape
    itemsize = xp.dtype.itemsize
    windows = _windows(xp, geometry, out_size)
    row_length = math.prod(kernel) * in_per_group
    row_bytes = row_length * itemsize

    def run(part: Chunk) -> np.ndarray:
        total = np.zeros((groups, row_length, out_per_group), dtype=xp.dtype)
        chunks = _chunks(part, out_size, row_bytes)
        buffer = _piece_buffer(chunks, out_size, row_length, xp.dtype)
        for chunk in chunks:
            n0, n1, r0, r1 = chunk
            rows = _chunk_rows(chunk, out_size)
            grad_rows = grad[n0:n1, r0:r1].reshape(rows, -1)
            for g in range(groups):
                columns = _im2col_piece(windows, chunk, g, in_per_group, buffer)
                total[g] += columns.T @ grad_rows[:, g * out_per_group : (g + 1) * out_per_group]
        return total

    work = batch * math.prod(out_size) * row_length * groups * itemsize
    flops = 2 * batch * math.prod(out_size) * row_length * groups * out_per_group
    partials = _run_parts(run, _split_outputs(batch, out_size[0], work), flops)
    return sum(partials[1:], partials[0]).reshape(weight_shape)


def _conv_input_grad_cl(
    grad: np.ndarray, weight: np.ndarray, geometry: _Geometry, input_size: Sequence[int]
) -> np.ndarray:
    """d(input) (N, *S, C) channels-last from the channels-last output gradient (N, *O, out)."""
    groups, *kernel, in_per_group, out_per_group = weight.shape
    d = len(kernel)
    depthwise = in_per_group == 1 and groups > 1
    # At stride 1 the input gradient is a "full" convolution of grad with the flipped,
    # transposed weight. Its im2col copies prod(K) * out_per_group values per input position,
    # col2im adds prod(K) * in_per_group: take the cheaper one (1x1 kernels need no im2col).
    flipped_is_cheaper = math.prod(kernel) == 1 or out_per_group <= in_per_group
    if all(s == 1 for s in geometry.stride) and flipped_is_cheaper and not depthwise:
        # computed only where the unpadded input lies (a negative pad crops grad)
        extents = [dl * (k - 1) for k, dl in zip(kernel, geometry.dilation, strict=True)]
        before = [e - p for e, p in zip(extents, geometry.pad_before, strict=True)]
        after = [
            s + e - b - o
            for s, e, b, o in zip(input_size, extents, before, grad.shape[1:-1], strict=True)
        ]
        flipped = weight[(slice(None), *[slice(None, None, -1)] * d)]
        flipped = np.ascontiguousarray(np.swapaxes(flipped, -1, -2))
        unit = _Geometry(tuple(kernel), geometry.stride, geometry.dilation, (0,) * d, (0,) * d)
        return _conv_cl(_pad(grad, before, after), flipped, unit, tuple(input_size))
    if depthwise:
        return _depthwise_input_grad_cl(grad, weight, geometry, input_size)
    channel_major = in_per_group < grad.shape[-2]
    return _col2im_input_grad(grad, weight, geometry, input_size, channel_major)


def _col2im_input_grad(
    grad: np.ndarray,
    weight: np.ndarray,
    geometry: _Geometry,
    input_size: Sequence[int],
    channel_major: bool,
) -> np.ndarray:
    """GEMM to im2col columns, then scatter-add them back, one kernel offset at a time.

    Channels-last, each scatter-add moves runs of in/groups values (6 for LeNet's second
    convolution), and NumPy's per-run overhead dominates when that is small. ``channel_major``
    has the GEMM write the columns transposed, (prod(K) * in/groups, rows), and adds the rows
    of each kernel offset into a (C, N, *S) gradient in runs of a whole output row; the result
    is then an (N, *S, C) view of it. For 2-d stride-1 kernels the output rows are widened to
    the padded input's width with a zero gradient, so that an offset's rows follow each other
    in the gradient's memory: one run of ``(rows - 1) * width + out_width`` values per channel
    and sample instead of one per output row (the zeros added past each row's end are
    harmless; with non-finite weights they would be 0 * inf, so those take the plain route).
    """
    groups, *kernel, in_per_group, out_per_group = weight.shape
    batch, *out_size, _ = grad.shape
    itemsize = grad.dtype.itemsize
    padded = [
        s + b + a
        for s, b, a in zip(input_size, geometry.pad_before, geometry.pad_after, strict=True)
    ]
    channels_total = groups * in_per_group
    layout = (channels_total, batch, *padded) if channel_major else (batch, *padded, channels_total)
    dxp = np.zeros(layout, dtype=grad.dtype)
    row_length = math.prod(kernel) * in_per_group
    matrices = weight.reshape(groups, row_length, out_per_group)
    offsets = list(np.ndindex(*kernel))
    wide = (
        channel_major
        and len(kernel) == 2
        and geometry.stride == (1, 1)
        and bool(np.isfinite(weight).all())
    )
    grid = out_size
    if wide:
        grid = [out_size[0], padded[1]]
        grad = _pad(grad, (0, 0), (0, padded[1] - out_size[1]))
        planes = dxp.reshape(channels_total, batch, math.prod(padded))

    def run(part: Chunk) -> None:
        chunks = _chunks(part, grid, row_length * itemsize)
        buffer = _piece_buffer(chunks, grid, row_length, grad.dtype)
        for chunk in chunks:
            n0, n1, r0, r1 = chunk
            rows = _chunk_rows(chunk, grid)
            grad_rows = grad[n0:n1, r0:r1].reshape(rows, -1)
            block = (n1 - n0, r1 - r0, *grid[1:])
            for g in range(groups):
                group_grad = grad_rows[:, g * out_per_group : (g + 1) * out_per_group]
                channels = slice(g * in_per_group, (g + 1) * in_per_group)
                if channel_major:
                    columns = buffer[: rows * row_length].reshape(row_length, rows)
                    np.matmul(matrices[g], group_grad.T, out=columns)
                    columns = columns.reshape(*kernel, in_per_group, *block)
                else:
                    columns = buffer[: rows * row_length].reshape(rows, row_length)
                    np.matmul(group_grad, matrices[g].T, out=columns)
                    columns = columns.reshape(*block, *kernel, in_per_group)
                if wide:
                    runs = columns.reshape(*kernel, in_per_group, n1 - n0, -1)
                    length = (r1 - r0 - 1) * grid[1] + out_size[1]
                    for k0, k1 in offsets:
                        start = (r0 + k0 * geometry.dilation[0]) * grid[1]
                        start += k1 * geometry.dilation[1]
                        target = planes[channels, n0:n1, start : start + length]
                        target += runs[k0, k1, ..., :length]
                    continue
                for offset in offsets:
                    spatial = _tap_slices(offset, geometry, out_size, (r0, r1))
                    if channel_major:
                        dxp[(channels, slice(n0, n1), *spatial)] += columns[offset]
                    else:
                        dxp[(slice(n0, n1), *spatial, channels)] += columns[
                            (Ellipsis, *offset, slice(None))
                        ]

    # parts write overlapping input rows unless they hold different samples
    work = batch * math.prod(out_size) * row_length * itemsize
    parts = _split_outputs(batch, out_size[0], work, by_rows=False)
    _run_parts(run, parts, 2 * work // itemsize * groups * out_per_group)
    if not channel_major:
        return _crop(dxp, geometry, input_size)
    cropped = dxp[(slice(None), slice(None), *_unpadded(geometry, input_size))]
    return np.moveaxis(cropped, 0, -1)


def _channel_sums(x: np.ndarray) -> np.ndarray:
    """Sum of channels-last ``x`` over all but the last axis: the bias gradient.

    A matrix-vector product: NumPy's own reduction over the long axis of a (rows, few) array
    runs a few elements at a time and is ten times slower.
    """
    rows = x.reshape(-1, x.shape[-1])
    with single_threaded_blas():
        return np.ones(rows.shape[0], dtype=x.dtype) @ rows


def _crop(xp: np.ndarray, geometry: _Geometry, input_size: Sequence[int]) -> np.ndarray:
    """The unpadded part of a padded channels-last array (a view)."""
    return xp[
        (
            slice(None),
            *(slice(b, b + s) for b, s in zip(geometry.pad_before, input_size, strict=True)),
        )
    ]


# --- depthwise kernels (no GEMM) --------------------------------------------------------------
# Several arrays stream through each piece (output, one input tap, a product), so the pieces
# are a quarter of the im2col ones to stay in L2.
def _depthwise_chunks(part: Chunk, out_size: Sequence[int], row_bytes: int) -> list[Chunk]:
    return _chunks(part, out_size, 4 * row_bytes)


def _depthwise_taps(weight: np.ndarray) -> np.ndarray:
    """GEMM-layout depthwise weight (G, *K, 1, m) as (prod(K), G, m): one (G, m) slab per tap."""
    groups, *_, multiplier = weight.shape
    return np.ascontiguousarray(np.moveaxis(weight.reshape(groups, -1, multiplier), 1, 0))


def _tap(windows: np.ndarray, chunk: Chunk, offset: tuple[int, ...]) -> np.ndarray:
    """Input values kernel offset ``offset`` meets in ``chunk``: (n, r, *O[1:], G, 1)."""
    n0, n1, r0, r1 = chunk
    return windows[(slice(n0, n1), slice(r0, r1), Ellipsis, *offset, slice(None))][..., None]


def _depthwise_cl(
    xp: np.ndarray,
    weight: np.ndarray,
    geometry: _Geometry,
    out_size: Sequence[int],
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Depthwise forward: out[..., c, m] = sum over offsets t of x_t[..., c] * w[t, c, m]."""
    groups, *kernel, _, multiplier = weight.shape
    batch = xp.shape[0]
    windows = _windows(xp, geometry, out_size)
    taps = _depthwise_taps(weight)
    offsets = list(np.ndindex(*kernel))
    out = np.empty((batch, *out_size, groups, multiplier), dtype=xp.dtype)

    def run(part: Chunk) -> None:
        chunks = _depthwise_chunks(part, out_size, groups * multiplier * xp.itemsize)
        for chunk in chunks:
            n0, n1, r0, r1 = chunk
            total = out[n0:n1, r0:r1]
            product = np.empty_like(total)
            np.multiply(_tap(windows, chunk, offsets[0]), taps[0], out=total)
            for index in range(1, len(offsets)):
                np.multiply(_tap(windows, chunk, offsets[index]), taps[index], out=product)
                total += product
            if bias is not None:
                total += bias.reshape(groups, multiplier)

    parallel_map(run, _split_outputs(batch, out_size[0], out.nbytes * len(offsets)))
    return out.reshape(batch, *out_size, groups * multiplier)


def _depthwise_weight_grad_cl(
    xp: np.ndarray, grad: np.ndarray, geometry: _Geometry, weight_shape: Sequence[int]
) -> np.ndarray:
    groups, *kernel, _, multiplier = weight_shape
    batch, *out_size, _ = grad.shape
    windows = _windows(xp, geometry, out_size)
    grad = grad.reshape(batch, *out_size, groups, multiplier)
    offsets = list(np.ndindex(*kernel))

    def run(part: Chunk) -> np.ndarray:
        total = np.zeros((len(offsets), groups, multiplier), dtype=xp.dtype)
        for chunk in _depthwise_chunks(part, out_size, groups * multiplier * xp.itemsize):
            n0, n1, r0, r1 = chunk
            grad_chunk = grad[n0:n1, r0:r1]
            product = np.empty_like(grad_chunk)
            for index, offset in enumerate(offsets):
                np.multiply(_tap(windows, chunk, offset), grad_chunk, out=product)
                total[index] += product.reshape(-1, groups, multiplier).sum(axis=0)
        return total

    partials = parallel_map(run, _split_outputs(batch, out_size[0], grad.nbytes * len(offsets)))
    total = sum(partials[1:], partials[0])  # (taps, groups, multiplier)
    return np.ascontiguousarray(np.moveaxis(total, 0, 1)).reshape(weight_shape)


def _depthwise_input_grad_cl(
    grad: np.ndarray, weight: np.ndarray, geometry: _Geometry, input_size: Sequence[int]
) -> np.ndarray:
    groups, *kernel, _, multiplier = weight.shape
    batch, *out_size, _ = grad.shape
    padded = [
        s + b + a
        for s, b, a in zip(input_size, geometry.pad_before, geometry.pad_after, strict=True)
    ]
    dxp = np.zeros((batch, *padded, groups), dtype=grad.dtype)
    grad = grad.reshape(batch, *out_size, groups, multiplier)
    taps = _depthwise_taps(weight)
    offsets = list(np.ndindex(*kernel))

    def run(part: Chunk) -> None:
        for chunk in _depthwise_chunks(part, out_size, groups * multiplier * grad.itemsize):
            n0, n1, r0, r1 = chunk
            grad_chunk = grad[n0:n1, r0:r1]
            product = np.empty_like(grad_chunk)
            for index, offset in enumerate(offsets):
                np.multiply(grad_chunk, taps[index], out=product)
                spatial = _tap_slices(offset, geometry, out_size, (r0, r1))
                dxp[(slice(n0, n1), *spatial)] += (
                    product[..., 0] if multiplier == 1 else product.sum(axis=-1)
                )

    work = grad.nbytes * len(offsets)
    parallel_map(run, _split_outputs(batch, out_size[0], work, by_rows=False))
    return _crop(dxp, geometry, input_size)


# --- ops --------------------------------------------------------------------------------------
def conv(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Sequence[int],
    padding: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    groups: int,
) -> Tensor:
    """N-d convolution (cross-correlation, as in PyTorch) for N = weight.ndim - 2.

    Args:
        input: (N, C_in, *S) or unbatched (C_in, *S).
        weight: (C_out, C_in / groups, *K).
        bias: (C_out,) or None.
        stride, dilation: one int per spatial dim.
        padding: (before, after) zero padding per spatial dim (may differ, for 'same').
        groups: number of channel groups.

    Returns:
        (N, C_out, *O) (or (C_out, *O)), O from ``conv_output_size``.
    """
    d = weight.ndim - 2
    unbatched = input.ndim == d + 1
    x = input.data[None] if unbatched else input.data
    padding = tuple(tuple(pair) for pair in padding)
    geometry = _conv_geometry(weight.shape[2:], tuple(stride), tuple(dilation), padding)
    pointwise = _is_pointwise(x, geometry, groups)
    if pointwise or (groups == 1 and x.shape[1] <= _NARROW_CHANNELS):
        return _sample_major_conv(input, weight, bias, geometry, unbatched, pointwise)
    input_size = x.shape[2:]
    out_size = geometry.output_size(input_size)
    gemm_weight = _to_gemm_weight(weight.data, groups)
    xp = _pad(_channels_last(x), geometry.pad_before, geometry.pad_after)
    out = _conv_cl(xp, gemm_weight, geometry, out_size, None if bias is None else bias.data)
    result = _channels_first(out)
    saved_input = xp if weight.requires_grad else None

    def backward(grad_output: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad = grad_output[None] if unbatched else grad_output
        grad = _pad(_channels_last(grad), (0,) * d, (0,) * d)
        grad_input = grad_weight = grad_bias = None
        if input.requires_grad:
            grad_input = _channels_first(
                _conv_input_grad_cl(grad, gemm_weight, geometry, input_size)
            )
            grad_input = grad_input[0] if unbatched else grad_input
        if saved_input is not None:
            grad_weight = _from_gemm_weight(
                _conv_weight_grad_cl(saved_input, grad, geometry, gemm_weight.shape)
            )
        if bias is not None and bias.requires_grad:
            grad_bias = _channel_sums(grad)
        return (grad_input, grad_weight) if bias is None else (grad_input, grad_weight, grad_bias)

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(result[0] if unbatched else result, parents, backward)


def _is_pointwise(x: np.ndarray, geometry: _Geometry, groups: int) -> bool:
    """A 1x1, stride-1, unpadded, ungrouped conv of a contiguous NCHW array."""
    unit = (1,) * len(geometry.kernel)
    return (
        geometry.kernel == unit
        and geometry.stride == unit
        and not any(geometry.pad_before + geometry.pad_after)
        and groups == 1
        and x.flags.c_contiguous
    )


def _sample_major_conv(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    geometry: _Geometry,
    unbatched: bool,
    pointwise: bool,
) -> Tensor:
    """Convolution as per-sample GEMMs (C_out, C*prod(K)) @ (C*prod(K), prod(O)), in NCHW order.

    Two kinds of layer take this route, reading the input and writing the (N, C_out, *O) output
    in NCHW order, as the layers around them (pooling, batch norm) expect it:

    - ``pointwise`` (``_is_pointwise``): a 1x1 convolution, whose input (C_in, H*W) per sample
      already is the im2col matrix: no copy at all.
    - an input with very few channels (an image: 1 or 3): channels-last im2col would copy runs
      of only k*C values; here a sample's matrix has one row per (channel, kernel offset) pair,
      copied in runs of a whole output row, and is kept for the weight gradient.
    """
    x = input.data[None] if unbatched else input.data
    batch, channels, *input_size = x.shape
    out_size = geometry.output_size(input_size)
    positions = math.prod(out_size)
    row_length = channels * math.prod(geometry.kernel)
    if pointwise:
        taps = None
        sample_columns = x.reshape(batch, channels, positions)
    else:
        padded = np.zeros(
            (batch, channels, *(s + b + a for s, b, a in zip(
                input_size, geometry.pad_before, geometry.pad_after, strict=True
            ))),
            dtype=x.dtype,
        )  # fmt: skip
        padded[(slice(None), slice(None), *_unpadded(geometry, input_size))] = x
        strides = padded.strides
        taps = np.ndarray(
            (batch, channels, *geometry.kernel, *out_size),
            padded.dtype,
            buffer=padded,
            strides=(
                strides[0],
                strides[1],
                *(st * dl for st, dl in zip(strides[2:], geometry.dilation, strict=True)),
                *(st * s for st, s in zip(strides[2:], geometry.stride, strict=True)),
            ),
        )
        columns = np.empty(taps.shape, dtype=x.dtype)
        sample_columns = columns.reshape(batch, row_length, positions)
    matrix = weight.data.reshape(weight.shape[0], row_length)
    out = np.empty((batch, weight.shape[0], positions), dtype=x.dtype)
    # work per split decision: a 1x1 layer moves its output (and gradient), an im2col its copy
    forward_bytes = out.nbytes if pointwise else sample_columns.nbytes
    backward_bytes = 2 * out.nbytes if pointwise else sample_columns.nbytes

    def forward(samples: range) -> None:
        part = slice(samples.start, samples.stop)
        if taps is not None:
            np.copyto(columns[part], taps[part])
        np.matmul(matrix, sample_columns[part], out=out[part])
        if bias is not None:
            out[part] += bias.data[:, None]

    flops = 2 * out.size * row_length
    _run_parts(forward, _split_batch(batch, forward_bytes), flops)
    result = out.reshape(batch, matrix.shape[0], *out_size)

    def backward(grad_output: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad = grad_output[None] if unbatched else grad_output
        grad = np.ascontiguousarray(grad).reshape(out.shape)
        grad_input = None
        if input.requires_grad:
            grad_input = np.empty_like(sample_columns) if pointwise else np.zeros_like(padded)

        def run(samples: range) -> np.ndarray | None:
            part = slice(samples.start, samples.stop)
            if grad_input is not None and pointwise:
                np.matmul(matrix.T, grad[part], out=grad_input[part])
            elif grad_input is not None:  # col2im: add each tap's rows back where they came from
                back = np.matmul(matrix.T, grad[part]).reshape(
                    len(samples), channels, *geometry.kernel, *out_size
                )
                for tap in np.ndindex(channels, *geometry.kernel):
                    spatial = _tap_slices(tap[1:], geometry, out_size, (0, out_size[0]))
                    grad_input[(part, tap[0], *spatial)] += back[(slice(None), *tap)]
            if not weight.requires_grad:
                return None
            total = np.zeros_like(matrix)
            product = np.empty_like(matrix)
            for n in samples:  # a sum of per-sample products: no transposed copy of either
                total += np.matmul(grad[n], sample_columns[n].T, out=product)
            return total

        partials = _run_parts(run, _split_batch(batch, backward_bytes), 2 * flops)
        grad_weight = None
        if grad_input is not None:
            inside = (slice(None), slice(None), *_unpadded(geometry, input_size))
            grad_input = grad_input.reshape(x.shape) if pointwise else grad_input[inside]
            grad_input = grad_input[0] if unbatched else grad_input
        if weight.requires_grad:
            grad_weight = sum(partials[1:], partials[0]).reshape(weight.shape)
        grads = [grad_input, grad_weight]
        if bias is not None:
            grads.append(grad.sum(axis=(0, 2)) if bias.requires_grad else None)
        return tuple(grads)

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(result[0] if unbatched else result, parents, backward)


def _unpadded(geometry: _Geometry, input_size: Sequence[int]) -> tuple[slice, ...]:
    """Spatial slices of a padded array that hold the input."""
    return tuple(slice(b, b + s) for b, s in zip(geometry.pad_before, input_size, strict=True))


def conv_transpose(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> Tensor:
    """N-d transposed convolution: the adjoint (input gradient) of ``conv`` with this weight.

    Args:
        input: (N, C_in, *I) or unbatched (C_in, *I).
        weight: (C_in, C_out / groups, *K) -- also the weight of the convolution it inverts,
            which maps C_out channels to C_in.
        bias: (C_out,) or None.
        stride, padding, output_padding, dilation: one int per spatial dim.
        groups: number of channel groups.

    Returns:
        (N, C_out, *O) (or (C_out, *O)), O from ``conv_transpose_output_size``.
    """
    d = weight.ndim - 2
    unbatched = input.ndim == d + 1
    x = input.data[None] if unbatched else input.data
    kernel = tuple(weight.shape[2:])
    geometry = _Geometry(kernel, tuple(stride), tuple(dilation), tuple(padding), tuple(padding))
    input_size = x.shape[2:]
    out_size = tuple(
        conv_transpose_output_size(i, k, s, p, op, dl)
        for i, k, s, p, op, dl in zip(
            input_size, kernel, stride, padding, output_padding, dilation, strict=True
        )
    )
    gemm_weight = _to_gemm_weight(weight.data, groups)
    x_cl = _pad(_channels_last(x), (0,) * d, (0,) * d)
    out = _conv_input_grad_cl(x_cl, gemm_weight, geometry, out_size)
    out = out + bias.data if bias is not None else out
    result = _channels_first(out)

    def backward(grad_output: np.ndarray) -> tuple[np.ndarray | None, ...]:
        grad = grad_output[None] if unbatched else grad_output
        grad = _channels_last(grad)
        grad_padded = _pad(grad, geometry.pad_before, geometry.pad_after)
        grad_input = grad_weight = grad_bias = None
        if input.requires_grad:
            grad_input = _channels_first(_conv_cl(grad_padded, gemm_weight, geometry, input_size))
            grad_input = grad_input[0] if unbatched else grad_input
        if weight.requires_grad:
            grad_weight = _from_gemm_weight(
                _conv_weight_grad_cl(grad_padded, x_cl, geometry, gemm_weight.shape)
            )
        if bias is not None and bias.requires_grad:
            grad_bias = _channel_sums(grad)
        return (grad_input, grad_weight) if bias is None else (grad_input, grad_weight, grad_bias)

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(result[0] if unbatched else result, parents, backward)


# --- im2col / col2im --------------------------------------------------------------------------
def _im2col(x: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """(N, C, *S) -> (N, C * prod(K), L), rows ordered (channel, kernel offset) as in PyTorch."""
    batch, channels, *input_size = x.shape
    out_size = geometry.output_size(input_size)
    x_cl = _pad(_channels_last(x), geometry.pad_before, geometry.pad_after)
    windows = _windows(x_cl, geometry, out_size)  # (N, *O, *K, C)
    d = len(out_size)
    # (N, C, *K, *O) order, then one copy into the result
    ordered = windows.transpose(0, 2 * d + 1, *range(d + 1, 2 * d + 1), *range(1, d + 1))
    return ordered.reshape(batch, channels * math.prod(geometry.kernel), math.prod(out_size))


def _col2im(columns: np.ndarray, input_size: Sequence[int], geometry: _Geometry) -> np.ndarray:
    """Adjoint of ``_im2col``, overlaps summed: (N, C * prod(K), L) -> (N, C, *S)."""
    batch = columns.shape[0]
    out_size = geometry.output_size(input_size)
    channels = columns.shape[1] // math.prod(geometry.kernel)
    columns = columns.reshape(batch, channels, *geometry.kernel, *out_size)
    padded = [
        s + b + a
        for s, b, a in zip(input_size, geometry.pad_before, geometry.pad_after, strict=True)
    ]
    xp = np.zeros((batch, channels, *padded), dtype=columns.dtype)
    for offset in np.ndindex(*geometry.kernel):
        spatial = _tap_slices(offset, geometry, out_size, (0, out_size[0]))
        xp[(slice(None), slice(None), *spatial)] += columns[(slice(None), slice(None), *offset)]
    return xp[
        (
            slice(None),
            slice(None),
            *(slice(b, b + s) for b, s in zip(geometry.pad_before, input_size, strict=True)),
        )
    ]


def _sliding_geometry(
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    stride: Sequence[int],
) -> _Geometry:
    return _Geometry(
        tuple(kernel_size), tuple(stride), tuple(dilation), tuple(padding), tuple(padding)
    )


def unfold(
    input: Tensor,
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    stride: Sequence[int],
) -> Tensor:
    """im2col: (N, C, *S) (or (C, *S)) -> (N, C * prod(K), L), every sliding block a column."""
    geometry = _sliding_geometry(kernel_size, dilation, padding, stride)
    d = len(geometry.kernel)
    unbatched = input.ndim == d + 1
    x = input.data[None] if unbatched else input.data
    input_size = x.shape[2:]
    out = _im2col(x, geometry)

    def backward(grad_output: np.ndarray) -> tuple[np.ndarray]:
        grad = _col2im(grad_output[None] if unbatched else grad_output, input_size, geometry)
        return (grad[0] if unbatched else grad,)

    return Tensor.from_op(out[0] if unbatched else out, (input,), backward)


def fold(
    input: Tensor,
    output_size: Sequence[int],
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    padding: Sequence[int],
    stride: Sequence[int],
) -> Tensor:
    """col2im: (N, C * prod(K), L) (or unbatched) -> (N, C, *output_size), overlaps summed."""
    geometry = _sliding_geometry(kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 2
    columns = input.data[None] if unbatched else input.data
    out = _col2im(columns, tuple(output_size), geometry)

    def backward(grad_output: np.ndarray) -> tuple[np.ndarray]:
        grad = _im2col(grad_output[None] if unbatched else grad_output, geometry)
        return (grad[0] if unbatched else grad,)

    return Tensor.from_op(out[0] if unbatched else out, (input,), backward)
