"""Batch, group and layer normalisation: forward and backward side by side.

Each is one op with a hand-written backward (no graph of small ops). With x̂ = (x - mean) /
sqrt(var + eps) over a normalisation set of n elements and dx̂ = dy * weight, the input gradient
of all three is the same expression:

    dx = (dx̂ - mean(dx̂) - x̂ * mean(dx̂ * x̂)) / sqrt(var + eps)

taken per channel over (N, *) for batch norm, per (sample, group) for group norm and per
sample over the trailing dimensions for layer norm.

Like PyTorch, the forward keeps only the statistics (mean, 1/std) for the backward, which
recomputes x̂. Besides halving the memory held between the passes, this means one new
input-sized array per pass fewer: on NumPy, page-faulting fresh large arrays costs more than
the arithmetic. Sums of products use ``einsum``, which needs no product array.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from cnnkit.ops._parallel import get_num_threads, parallel_map
from cnnkit.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm", "local_response_norm"]

# Input bytes per block of samples in batch norm: a block, its output and a scratch block of the
# same size stay in the L2 cache between the passes over them.
_BLOCK_BYTES = 1 << 20
# Elements per thread below which a split costs more than it saves: a parallel_map call costs
# ~40 µs on a quiet machine (much more on a loaded one: the second thread waits to be
# scheduled), a pass over 2^19 float32 elements 100-200 µs.
_MIN_PART_ELEMENTS = 1 << 19


def _last_axis_statistics(x: np.ndarray, eps: float) -> tuple[np.ndarray, ...]:
    """(x - mean, mean, 1/sqrt(var + eps)) over the last axis; biased variance, two passes."""
    size = x.shape[-1]
    mean = (np.einsum("...k->...", x) / size)[..., None]
    centered = x - mean
    var = np.einsum("...k,...k->...", centered, centered)[..., None] / size
    return centered, mean, 1.0 / np.sqrt(var + eps)


def _last_axis_backward(
    grad_normalized: np.ndarray, normalized: np.ndarray, inv_std: np.ndarray
) -> np.ndarray:
    """dx from dx̂ for x̂ normalised over the last axis; overwrites both arguments."""
    size = normalized.shape[-1]
    mean_grad = np.einsum("...k->...", grad_normalized)[..., None] / size
    mean_grad_dot = np.einsum("...k,...k->...", grad_normalized, normalized)[..., None] / size
    normalized *= mean_grad_dot
    grad_normalized -= normalized
    grad_normalized -= mean_grad
    grad_normalized *= inv_std
    return grad_normalized


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Per-channel sum of an (N, C, L) array."""
    return np.einsum("ncl->nc", a).sum(axis=0)


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-channel sum of a * b for (N, C, L) arrays, without the product array."""
    return np.einsum("ncl,ncl->nc", a, b).sum(axis=0)


def _scale_shift_(
    values: np.ndarray, scale: np.ndarray | None, shift: np.ndarray | None
) -> np.ndarray:
    """values * scale + shift, in place (None: no scale / no shift)."""
    if scale is not None:
        values *= scale
    if shift is not None:
        values += shift
    return values


def _with_affine(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> tuple[Tensor, ...]:
    return (input,) + tuple(t for t in (weight, bias) if t is not None)


def _grads_for(parents: tuple[Tensor, ...], grads: dict[int, np.ndarray | None]) -> tuple:
    return tuple(grads.get(id(p)) for p in parents)


_thread_buffers = threading.local()


def _scratch_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A reused, uninitialised work array of ``shape`` for the calling thread.

    One buffer per thread and dtype, grown as needed, valid until the next call from the same
    thread. A fresh temporary would page-fault on first touch, which costs more than the
    arithmetic done in it.
    """
    buffers = _thread_buffers.__dict__.setdefault("by_dtype", {})
    size = math.prod(shape)
    buffer = buffers.get(dtype)
    if buffer is None or buffer.size < size:
        buffer = buffers[dtype] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _blockwise(work: Callable[[slice, np.ndarray], None], data: np.ndarray) -> None:
    """Call ``work(block, scratch)`` for blocks of ``data`` along its first axis.

    Blocks hold about ``_BLOCK_BYTES`` (at least one sample), so the several passes a block
    gets, and ``scratch`` (a reused buffer of the block's shape), stay in the cache;
    consecutive blocks form one part per thread when there is enough work.
    """
    count, sample_shape = len(data), data.shape[1:]
    step = max(1, _BLOCK_BYTES // max(1, data[:1].nbytes))
    if step >= count:  # one block (small batches, batch-1 inference): no machinery
        work(slice(0, count), _scratch_buffer(data.shape, data.dtype))
        return
    starts = range(0, count, step)
    threads = max(1, min(get_num_threads(), len(starts), data.size // _MIN_PART_ELEMENTS))

    def run_part(part: range) -> None:
        scratch_shape = (min(step, count), *sample_shape)
        scratch = _scratch_buffer(scratch_shape, data.dtype)
        for start in part:
            stop = min(start + step, count)
            work(slice(start, stop), scratch[: stop - start])

    bounds = [len(starts) * part // threads for part in range(threads + 1)]
    parallel_map(run_part, [starts[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    """Normalise each channel of (N, C, *) input over (N, *).

    Training: batch statistics, and the running ones (if given) are updated in place with
    ``(1 - momentum) * running + momentum * batch`` (unbiased variance). Evaluation: the
    running statistics.

    Every pass works through blocks of samples (``_blockwise``: in cache, split over the
    threads) and writes only its result: 5 passes forward (training), 7 backward, no
    input-sized temporary.
    """
    batch, channels = input.shape[:2]
    x = input.data.reshape(batch, channels, -1)
    count = batch * x.shape[2]
    gamma = np.ones(channels, input.dtype) if weight is None else weight.data
    beta = np.zeros(channels, input.dtype) if bias is None else bias.data
    out = np.empty_like(x)

    if training:
        mean = _channel_sum(x) / count  # one fast read: not worth a thread
        squares = np.empty((batch, channels), x.dtype)

        def center(block: slice, _: np.ndarray) -> None:
            centered = np.subtract(x[block], mean[:, None], out=out[block])
            np.einsum("ncl,ncl->nc", centered, centered, out=squares[block])

        _blockwise(center, x)  # out = x - mean, squared while the block is in the cache
        var = squares.sum(axis=0) / count
        inv_std = 1.0 / np.sqrt(var + eps)
        if running_mean is not None and running_var is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))
        scale = gamma * inv_std

        def normalize(block: slice, _: np.ndarray) -> None:
            # (x - mean) * scale + beta, rounded like PyTorch's: tiny outputs keep their sign,
            # which ReLU and max pooling after this layer depend on
            out[block] *= scale[:, None]
            out[block] += beta[:, None]

    else:
        mean = running_mean.copy()  # the backward needs the statistics this forward used
        inv_std = 1.0 / np.sqrt(running_var + eps)
        scale = gamma * inv_std
        shift = beta - mean * scale

        def normalize(block: slice, _: np.ndarray) -> None:
            target = np.multiply(x[block], scale[:, None], out=out[block])
            target += shift[:, None]

    _blockwise(normalize, x)
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        grad_rows = grad.reshape(x.shape)
        wants_weight = weight is not None and weight.requires_grad
        wants_bias = bias is not None and bias.requires_grad
        wants_input = input.requires_grad
        grads: dict[int, np.ndarray | None] = {}
        # training: x - mean is kept in grad_input between the two passes (no other temporary)
        grad_input = np.empty(x.shape, grad.dtype) if wants_input else None
        if wants_weight or wants_bias or (training and wants_input):
            # Σ dy and Σ dy (x - mean) per channel, each computed once for all the gradients
            sums = np.empty((batch, channels), grad.dtype)
            dots = np.empty((batch, channels), grad.dtype)
            keep_centered = training and wants_input

            def reduce(block: slice, scratch: np.ndarray) -> None:
                np.einsum("ncl->nc", grad_rows[block], out=sums[block])
                centered = grad_input[block] if keep_centered else scratch
                np.subtract(x[block], mean[:, None], out=centered)
                np.einsum("ncl,ncl->nc", grad_rows[block], centered, out=dots[block])

            _blockwise(reduce, x)
            grad_sum, grad_dot = sums.sum(axis=0), dots.sum(axis=0)
            if wants_weight:
                grads[id(weight)] = grad_dot * inv_std
            if wants_bias:
                grads[id(bias)] = grad_sum
        if wants_input:
            if training:
                # dx = scale * (dy - mean(dy) - (x - mean) * inv_std² * mean(dy * (x - mean)))
                #    = (x - mean) * slope + dy * scale + intercept
                slope = (-scale * inv_std**2 * grad_dot / count)[:, None]
                intercept = (-scale * grad_sum / count)[:, None]

                def input_gradient(block: slice, scratch: np.ndarray) -> None:
                    target = grad_input[block]  # holds x - mean
                    target *= slope
                    target += np.multiply(grad_rows[block], scale[:, None], out=scratch)
                    target += intercept

            else:

                def input_gradient(block: slice, _: np.ndarray) -> None:
                    np.multiply(grad_rows[block], scale[:, None], out=grad_input[block])

            _blockwise(input_gradient, x)
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None, bias: Tensor | None, eps: float
) -> Tensor:
    """Normalise each group of C/num_groups channels of each sample of (N, C, *) input."""
    batch, channels = input.shape[:2]
    grouped = input.data.reshape(batch, num_groups, -1)
    out, mean, inv_std = _last_axis_statistics(grouped, eps)
    out *= inv_std
    per_channel_shape = (batch, channels, -1)
    gamma = None if weight is None else weight.data[:, None]
    beta = None if bias is None else bias.data[:, None]
    _scale_shift_(out.reshape(per_channel_shape), gamma, beta)
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        normalized = grouped - mean
        normalized *= inv_std
        grad_rows = grad.reshape(per_channel_shape)
        grads: dict[int, np.ndarray | None] = {}
        if weight is not None and weight.requires_grad:
            grads[id(weight)] = _channel_dot(grad_rows, normalized.reshape(grad_rows.shape))
        if bias is not None and bias.requires_grad:
            grads[id(bias)] = _channel_sum(grad_rows)
        if input.requires_grad:
            grad_normalized = grad_rows.copy() if gamma is None else grad_rows * gamma
            grad_input = _last_axis_backward(
                grad_normalized.reshape(grouped.shape), normalized, inv_std
            )
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)


def layer_norm(
    input: Tensor,
    normalized_shape: tuple[int, ...],
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Tensor:
    """Normalise each sample over its trailing ``normalized_shape`` dimensions."""
    features = int(np.prod(normalized_shape))
    rows = input.data.reshape(-1, features)
    out, mean, inv_std = _last_axis_statistics(rows, eps)
    out *= inv_std
    gamma = None if weight is None else weight.data.reshape(-1)
    beta = None if bias is None else bias.data.reshape(-1)
    _scale_shift_(out, gamma, beta)
    parents = _with_affine(input, weight, bias)

    def backward(grad: np.ndarray) -> tuple:
        normalized = rows - mean
        normalized *= inv_std
        grad_rows = grad.reshape(rows.shape)
        grads: dict[int, np.ndarray | None] = {}
        if weight is not None and weight.requires_grad:
            grads[id(weight)] = np.einsum("mk,mk->k", grad_rows, normalized).reshape(weight.shape)
        if bias is not None and bias.requires_grad:
            grads[id(bias)] = grad_rows.sum(axis=0).reshape(bias.shape)
        if input.requires_grad:
            grad_normalized = grad_rows.copy() if gamma is None else grad_rows * gamma
            grad_input = _last_axis_backward(grad_normalized, normalized, inv_std)
            grads[id(input)] = grad_input.reshape(input.shape)
        return _grads_for(parents, grads)

    return Tensor.from_op(out.reshape(input.shape), parents, backward)


def _channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """out[:, c] = sum of a[:, c - before : c + after + 1] over (N, C, L), zeros outside."""
    channels = a.shape[1]
    padded = np.pad(a, ((0, 0), (before, after), (0, 0)))
    out = padded[:, :channels].copy()
    for offset in range(1, before + after + 1):
        out += padded[:, offset : offset + channels]
    return out


def local_response_norm(input: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
    """y = x / (k + alpha * mean of x² over ``size`` neighbouring channels) ** beta.

    The window of channel c is [c - size // 2, c + (size - 1) // 2] (PyTorch's), zero-padded.
    """
    batch, channels = input.shape[:2]
    x = input.data.reshape(batch, channels, -1)
    base = _channel_window_sum(x * x, size // 2, (size - 1) // 2)
    base *= alpha / size
    base += k  # B = k + alpha * S
    inv_denominator = base ** (-beta)
    out = x * inv_denominator

    def backward(grad: np.ndarray) -> tuple[np.ndarray]:
        grad_rows = grad.reshape(x.shape)
        # dL/dS_c = -beta * alpha * g_c * x_c * B_c^(-beta - 1); S_c sums x² over c's window,
        # so x_j collects from every c whose window holds j: the window mirrored.
        through_sum = grad_rows * out
        through_sum /= base
        through_sum *= -2 * beta * alpha / size
        grad_input = _channel_window_sum(through_sum, (size - 1) // 2, size // 2)
        grad_input *= x
        grad_input += grad_rows * inv_denominator
        return (grad_input.reshape(input.shape),)

    return Tensor.from_op(out.reshape(input.shape), (input,), backward)
