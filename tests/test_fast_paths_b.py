"""Fast paths of batch norm and ReLU against the plain path and PyTorch.

Batch norm works through blocks of samples in the cache, split over threads; each test forces
small blocks and every part onto its own thread, and checks that the result is bit for bit the
plain path's (one block, one thread: the arithmetic per element and per sample is the same) and
within the usual tolerances of PyTorch's. ReLU compares against cached zeros and keeps no mask:
its special values (NaN, infinities, signed zeros) and dtypes are checked against PyTorch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import assert_close, check_against_torch

import cnnkit
import cnnkit.nn.functional as F
from cnnkit.ops import elementwise, norm, pool


@contextmanager
def _blocks_of(samples: int | None, sample_bytes: int, threads: int) -> Iterator[None]:
    """Batch norm with blocks of ``samples`` samples (None: one block), every part threaded."""
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(threads)
    block_bytes = 1 << 40 if samples is None else samples * sample_bytes
    try:
        with (
            mock.patch.object(norm, "_BLOCK_BYTES", block_bytes),
            mock.patch.object(norm, "_MIN_PART_ELEMENTS", 1),
        ):
            yield
    finally:
        cnnkit.set_num_threads(previous)


def _batch_norm_run(
    inputs: list[np.ndarray], training: bool, wants: list[bool], upstream: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray | None], list[np.ndarray]]:
    """Output, gradients and the updated running statistics of one batch norm call."""
    x, weight, bias, mean, var = (np.array(a) for a in inputs)
    tensors = [
        cnnkit.Tensor(a, requires_grad=w) for a, w in zip((x, weight, bias), wants, strict=True)
    ]
    running = [cnnkit.Tensor(mean), cnnkit.Tensor(var)]
    out = F.batch_norm(tensors[0], *running, tensors[1], tensors[2], training=training)
    if any(wants):
        out.backward(upstream)
    return out.numpy(), [t.grad for t in tensors], [r.numpy() for r in running]


batch_norm_cases = st.fixed_dictionaries(
    {
        "shape": st.tuples(
            st.integers(1, 7), st.integers(1, 5), st.lists(st.integers(1, 5), max_size=2)
        ).map(lambda t: (t[0], t[1], *t[2])),
        "training": st.booleans(),
        "wants": st.lists(st.booleans(), min_size=3, max_size=3),
        "block_samples": st.sampled_from([1, 2, 3, None]),
        "threads": st.integers(1, 3),
        "loc": st.sampled_from([0.0, 5.0]),
        "seed": st.integers(0, 2**16),
    }
)


@given(case=batch_norm_cases)
def test_batch_norm_blocks_and_threads_match_plain_path_and_torch(case: dict) -> None:
    shape = case["shape"]
    if case["training"] and np.prod(shape) // shape[1] < 3:
        # training needs two values per channel, and with exactly two the outputs are +-1
        # whatever the input: the input gradient is zero, its computed value rounding noise
        shape = (3,) + shape[1:]
    channels = shape[1]
    rng = np.random.default_rng(case["seed"])
    inputs = [
        (rng.standard_normal(shape) * 2 + case["loc"]).astype(np.float32),
        rng.standard_normal(channels).astype(np.float32),
        rng.standard_normal(channels).astype(np.float32),
        rng.standard_normal(channels).astype(np.float32),
        rng.uniform(0.5, 2, channels).astype(np.float32),
    ]
    upstream = rng.standard_normal(shape).astype(np.float32)
    training, wants = case["training"], case["wants"]

    sample_bytes = 4 * int(np.prod(shape[1:]))
    with _blocks_of(case["block_samples"], sample_bytes, case["threads"]):
        fast = _batch_norm_run(inputs, training, wants, upstream)
    with _blocks_of(None, sample_bytes, 1):
        plain = _batch_norm_run(inputs, training, wants, upstream)
    np.testing.assert_array_equal(fast[0], plain[0])
    for fast_grad, plain_grad in zip(fast[1] + fast[2], plain[1] + plain[2], strict=True):
        np.testing.assert_array_equal(fast_grad, plain_grad)

    torch_tensors = [
        torch.tensor(a, requires_grad=w) for a, w in zip(inputs[:3], wants, strict=True)
    ]
    running = [torch.tensor(inputs[3]), torch.tensor(inputs[4])]
    expected = torch.nn.functional.batch_norm(
        torch_tensors[0], *running, torch_tensors[1], torch_tensors[2], training=training
    )
    assert_close(fast[0], expected.detach().numpy(), 1e-5, "forward")
    for ours, theirs, what in zip(fast[2], running, ("running_mean", "running_var"), strict=True):
        assert_close(ours, theirs.numpy(), 1e-5, what)
    if not any(wants):
        return
    expected.backward(torch.from_numpy(upstream))
    for ours, theirs, wanted in zip(fast[1], torch_tensors, wants, strict=True):
        if wanted:
            assert_close(ours, theirs.grad.numpy(), 1e-4, "gradient")
        else:
            assert ours is None


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_large_enough_to_split_matches_torch(training: bool) -> None:
    """The default thresholds: a (16, 16, 64, 64) input is split over two threads."""
    rng = np.random.default_rng(3)
    shape = (16, 16, 64, 64)
    assert np.prod(shape) >= 2 * norm._MIN_PART_ELEMENTS
    inputs = [
        (rng.standard_normal(shape) * 3 + 1).astype(np.float32),
        rng.standard_normal(16).astype(np.float32),
        rng.standard_normal(16).astype(np.float32),
    ]
    mean, var = rng.standard_normal(16).astype(np.float32), np.full(16, 1.5, np.float32)
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(2)
    try:
        check_against_torch(
            lambda x, w, b: F.batch_norm(
                x, cnnkit.tensor(mean), cnnkit.tensor(var), w, b, training=training
            ),
            lambda x, w, b: torch.nn.functional.batch_norm(
                x, torch.tensor(mean), torch.tensor(var), w, b, training=training
            ),
            inputs,
        )
    finally:
        cnnkit.set_num_threads(previous)


def test_scratch_buffers_are_per_thread_and_dtype_and_reused() -> None:
    first = norm._scratch_buffer((2, 5), np.dtype(np.float32))
    again = norm._scratch_buffer((6,), np.dtype(np.float32))
    assert np.shares_memory(first, again) and again.shape == (6,)
    assert not np.shares_memory(first, norm._scratch_buffer((10,), np.dtype(np.float64)))
    other: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: other.append(norm._scratch_buffer((10,), first.dtype)))
    worker.start()
    worker.join()
    assert not np.shares_memory(first, other[0])
    grown = norm._scratch_buffer((3, 100), np.dtype(np.float32))
    assert grown.shape == (3, 100)


# --- ReLU ----------------------------------------------------------------------------------
SPECIAL = np.array([np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-30, 1e-30, -2.0, 3.0], np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_special_values_and_their_gradients_match_torch(dtype: type) -> None:
    x = SPECIAL.astype(dtype)
    ours_in = cnnkit.Tensor(x, requires_grad=True)
    theirs_in = torch.tensor(x, requires_grad=True)
    ours, theirs = F.relu(ours_in), torch.relu(theirs_in)
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    upstream = np.arange(1, x.size + 1, dtype=dtype)
    ours.backward(upstream)
    theirs.backward(torch.from_numpy(upstream))
    # the gradient passes where the output is not <= 0: a NaN output passes it, as in PyTorch
    np.testing.assert_array_equal(ours_in.grad, theirs_in.grad.numpy())


@given(
    shape=st.lists(st.integers(1, 6), min_size=0, max_size=4).map(tuple),
    seed=st.integers(0, 2**16),
)
def test_relu_matches_plain_maximum_and_torch(shape: tuple[int, ...], seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(F.relu(cnnkit.Tensor(x)).numpy(), np.maximum(x, 0))
    check_against_torch(F.relu, torch.relu, [x])


def test_relu_of_views_and_integers() -> None:
    x = np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)
    check_against_torch(lambda t: F.relu(t.T), lambda t: torch.relu(t.T), [x])
    integers = np.array([-3, 0, 4], np.int64)
    ours = F.relu(cnnkit.Tensor(integers)).numpy()
    np.testing.assert_array_equal(ours, torch.relu(torch.from_numpy(integers)).numpy())
    assert ours.dtype == np.int64


def test_relu_zero_buffer_grows_and_stays_zero() -> None:
    small = np.full(3, -1.0, np.float32)
    large = np.full(1 << 17, -2.0, np.float32)  # more than the first buffer holds
    for x in (small, large, small):
        np.testing.assert_array_equal(F.relu(cnnkit.Tensor(x)).numpy(), np.zeros_like(x))
    zeros = elementwise._zeros_like(large)
    assert not zeros.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        zeros[0] = 1.0


# --- max pooling's NaN test ----------------------------------------------------------------
@pytest.mark.parametrize("strided", [False, True])
def test_max_pool_nan_check_on_views_matches_isnan_and_torch(strided: bool) -> None:
    def view(a):  # type: ignore[no-untyped-def]  # NumPy array, cnnkit or torch tensor
        return a[:, :, ::2].transpose(2, 3) if strided else a

    x = np.random.default_rng(5).standard_normal((2, 3, 8, 6)).astype(np.float32)
    as_view = np.swapaxes(x[:, :, ::2], 2, 3) if strided else x
    assert not pool._has_nan(as_view)
    x[1, 2, 4, 3] = np.nan
    assert pool._has_nan(as_view) and as_view.flags.c_contiguous != strided
    assert pool._has_nan(np.array(np.nan, np.float32)) and not pool._has_nan(np.zeros(()))
    ours_in, theirs_in = cnnkit.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = F.max_pool2d(view(ours_in), 2), TF.max_pool2d(view(theirs_in), 2)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())  # NaN where torch's
    upstream = np.random.default_rng(6).standard_normal(ours.shape).astype(np.float32)
    ours.backward(upstream)
    theirs.backward(torch.from_numpy(upstream))
    np.testing.assert_array_equal(ours_in.grad, theirs_in.grad.numpy())
