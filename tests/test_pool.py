"""Pooling against PyTorch: max, average, adaptive, max-unpool; 1-D to 3-D, batched or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F
from cnnkit.ops.pool import _row_parts

# Each hypothesis example is a few milliseconds, so the sweeps run several times the profile's
# count (CNNKIT_EXAMPLES scales them all).
MANY = settings(max_examples=settings.default.max_examples * 8)


def distinct_values(shape: tuple[int, ...], seed: int, dtype: type = np.float32) -> np.ndarray:
    """A scaled random permutation: no two elements are equal, so no max-pool ties."""
    size = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(size) - size / 2
    return (values / max(size, 1)).reshape(shape).astype(dtype)


@st.composite
def windows(draw: st.DrawFn, dilation: bool = True) -> dict:
    """A valid pooling configuration: dims, input shape, kernel, stride, padding, dilation."""
    n = draw(st.integers(1, 3))
    largest = (5, 4, 3)[n - 1]
    kernel = tuple(draw(st.integers(1, largest)) for _ in range(n))
    stride = tuple(draw(st.integers(1, largest)) for _ in range(n))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilations = tuple(draw(st.integers(1, 3 if dilation else 1)) for _ in range(n))
    spatial = tuple(
        max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, (6, 4, 2)[n - 1]))
        for k, p, d in zip(kernel, padding, dilations, strict=True)
    )
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    channels = draw(st.integers(1, 3))
    return {
        "n": n,
        "shape": batch + (channels,) + spatial,
        "kernel_size": kernel if draw(st.booleans()) or len(set(kernel)) > 1 else kernel[0],
        "stride": None if draw(st.integers(0, 4)) == 0 else stride,
        "padding": padding,
        "dilation": dilations,
        "ceil_mode": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


def ours_and_theirs(name: str, n: int) -> tuple:
    return getattr(F, f"{name}{n}d"), getattr(TF, f"{name}{n}d")


# --- max pooling ------------------------------------------------------------------------------
@MANY
@given(case=windows())
def test_max_pool_matches_torch_with_indices(case: dict) -> None:
    n, shape, seed = case.pop("n"), case.pop("shape"), case.pop("seed")
    ours, theirs = ours_and_theirs("max_pool", n)
    x = distinct_values(shape, seed)
    our_values, our_indices = ours(cnnkit.tensor(x), **case, return_indices=True)
    torch_values, torch_indices = theirs(torch.tensor(x), **case, return_indices=True)
    np.testing.assert_array_equal(our_values.numpy(), torch_values.numpy())
    assert our_indices.dtype == np.int64
    np.testing.assert_array_equal(our_indices.numpy(), torch_indices.numpy())
    # A dilated window can fall entirely into padding: -inf there, as in PyTorch (checked
    # above); the relative-error helper needs finite values.
    if np.isfinite(torch_values.numpy()).all():
        check_against_torch(lambda t: ours(t, **case), lambda t: theirs(t, **case), [x])


@settings(max_examples=settings.default.max_examples * 2)
@given(case=windows())
def test_max_pool_values_without_grad_match_torch(case: dict) -> None:
    n, shape, seed = case.pop("n"), case.pop("shape"), case.pop("seed")
    ours, theirs = ours_and_theirs("max_pool", n)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with cnnkit.no_grad():
        out = ours(cnnkit.tensor(x), **case)
    np.testing.assert_array_equal(out.numpy(), theirs(torch.tensor(x), **case).numpy())


@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool_ties_pick_the_first_maximum_like_torch(padding: int) -> None:
    x = np.random.default_rng(0).integers(0, 3, size=(2, 3, 9, 8)).astype(np.float32)
    kwargs = {"kernel_size": 3, "stride": 2, "padding": padding}
    check_against_torch(
        lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x]
    )
    _, ours = F.max_pool2d(cnnkit.tensor(x), **kwargs, return_indices=True)
    _, theirs = TF.max_pool2d(torch.tensor(x), **kwargs, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("padding", [0, 1])
def test_max_pool_nan_and_minus_infinity_like_torch(padding: int) -> None:
    x = np.random.default_rng(1).standard_normal((2, 10, 10)).astype(np.float32)
    x[0, 1, 1] = x[0, 1, 2] = np.nan  # two NaNs in one window: torch reports the last
    x[1, :4, :4] = -np.inf  # windows of -inf report their first position inside the input
    ours, our_indices = F.max_pool2d(cnnkit.tensor(x), 3, 2, padding, return_indices=True)
    theirs, their_indices = TF.max_pool2d(torch.tensor(x), 3, 2, padding, return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(our_indices.numpy(), their_indices.numpy())
    with cnnkit.no_grad():
        np.testing.assert_array_equal(
            F.max_pool2d(cnnkit.tensor(x), 3, 2, padding).numpy(), theirs.numpy()
        )


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pools_split_over_threads_match_torch(threads: int) -> None:
    x = distinct_values((6, 16, 64, 64), threads)
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(threads)
    try:
        # Large enough that even 2x2 pooling is split into one part per thread.
        assert len(_row_parts(6 * 16, 6 * 16 * 32 * 32 * 4)) == threads
        for kwargs in ({"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 2}):
            check_against_torch(
                lambda t, kw=kwargs: F.max_pool2d(t, **kw),
                lambda t, kw=kwargs: TF.max_pool2d(t, **kw),
                [x],
            )
            check_against_torch(
                lambda t, kw=kwargs: F.avg_pool2d(t, **kw),
                lambda t, kw=kwargs: TF.avg_pool2d(t, **kw),
                [x],
            )
            with cnnkit.no_grad():
                ours = F.max_pool2d(cnnkit.tensor(x), **kwargs).numpy()
            np.testing.assert_array_equal(ours, TF.max_pool2d(torch.tensor(x), **kwargs).numpy())
    finally:
        cnnkit.set_num_threads(previous)


def test_max_pool_keeps_float64() -> None:
    x = distinct_values((2, 3, 7, 6), 0, np.float64)
    check_against_torch(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x])


@pytest.mark.parametrize(
    ("n", "kwargs"),
    [
        (1, {"kernel_size": 3, "stride": 2, "padding": 1}),
        (2, {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2}),
        (2, {"kernel_size": 2, "stride": 2, "ceil_mode": True}),
        (3, {"kernel_size": 2, "stride": 1, "padding": 1}),
    ],
)
def test_max_pool_finite_differences(n: int, kwargs: dict) -> None:
    x = distinct_values((2, 2) + (5,) * n, n, np.float64)
    check_gradients(lambda t: getattr(F, f"max_pool{n}d")(t, **kwargs), [x])


# --- average pooling --------------------------------------------------------------------------
@MANY
@given(case=windows(dilation=False), count_include_pad=st.booleans(), override=st.integers(-1, 4))
def test_avg_pool_matches_torch(case: dict, count_include_pad: bool, override: int) -> None:
    n, shape, seed = case.pop("n"), case.pop("shape"), case.pop("seed")
    del case["dilation"]
    case["count_include_pad"] = count_include_pad
    if n > 1 and override != 0:
        case["divisor_override"] = override
    if n == 3:  # PyTorch's avg_pool3d (only) rejects inputs smaller than the kernel
        kernel = np.broadcast_to(case["kernel_size"], (3,))
        shape = shape[:-3] + tuple(max(i, k) for i, k in zip(shape[-3:], kernel, strict=True))
    ours, theirs = ours_and_theirs("avg_pool", n)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    check_against_torch(lambda t: ours(t, **case), lambda t: theirs(t, **case), [x])


@pytest.mark.parametrize(
    ("n", "kwargs"),
    [
        (1, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
        (2, {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
        (2, {"kernel_size": 2, "divisor_override": 3}),
        (3, {"kernel_size": 2, "stride": 1, "padding": 1}),
    ],
)
def test_avg_pool_finite_differences(n: int, kwargs: dict) -> None:
    x = np.random.default_rng(n).standard_normal((2, 2) + (5,) * n)
    check_gradients(lambda t: getattr(F, f"avg_pool{n}d")(t, **kwargs), [x])


# --- power-average pooling -------------------------------------------------------------------
@MANY
@given(case=windows(dilation=False), norm_type=st.sampled_from([1, 2, 3, 1.5, 4.0]))
def test_lp_pool_matches_torch(case: dict, norm_type: float) -> None:
    n, shape, seed = case.pop("n"), case.pop("shape"), case.pop("seed")
    del case["dilation"], case["padding"]
    kernel = np.broadcast_to(case["kernel_size"], (n,))
    shape = shape[:-n] + tuple(max(i, k) for i, k in zip(shape[-n:], kernel, strict=True))
    if n == 1:  # PyTorch's lp_pool1d multiplies by kernel_size, so it must be an int there
        case["kernel_size"] = int(kernel[0])
    ours, theirs = ours_and_theirs("lp_pool", n)
    # Positive inputs keep odd and fractional powers real (as in PyTorch, negatives give NaN).
    x = np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)
    check_against_torch(
        lambda t: ours(t, norm_type, **case), lambda t: theirs(t, norm_type, **case), [x]
    )


# --- adaptive pooling -------------------------------------------------------------------------
@st.composite
def adaptive_cases(draw: st.DrawFn) -> tuple[int, tuple[int, ...], object, int]:
    n = draw(st.integers(1, 3))
    largest = (12, 9, 5)[n - 1]
    spatial = tuple(draw(st.integers(1, largest)) for _ in range(n))
    sizes = [draw(st.one_of(st.integers(1, largest + 2), st.none())) for _ in range(n)]
    if n == 1 or draw(st.booleans()):
        sizes[0] = sizes[0] or 1
    single = sizes[0] is not None and (n == 1 or len(set(sizes)) == 1)
    output_size = sizes[0] if single and draw(st.booleans()) else tuple(sizes)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    return n, batch + (draw(st.integers(1, 3)),) + spatial, output_size, draw(st.integers(0, 99))


@MANY
@given(case=adaptive_cases())
def test_adaptive_avg_pool_matches_torch(case: tuple) -> None:
    n, shape, output_size, seed = case
    ours, theirs = ours_and_theirs("adaptive_avg_pool", n)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    check_against_torch(lambda t: ours(t, output_size), lambda t: theirs(t, output_size), [x])


@MANY
@given(case=adaptive_cases())
def test_adaptive_max_pool_matches_torch_with_indices(case: tuple) -> None:
    n, shape, output_size, seed = case
    ours, theirs = ours_and_theirs("adaptive_max_pool", n)
    x = distinct_values(shape, seed)
    check_against_torch(lambda t: ours(t, output_size), lambda t: theirs(t, output_size), [x])
    _, our_indices = ours(cnnkit.tensor(x), output_size, return_indices=True)
    _, their_indices = theirs(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(our_indices.numpy(), their_indices.numpy())


def test_adaptive_max_pool_ties_nan_and_minus_infinity_like_torch() -> None:
    x = np.random.default_rng(2).integers(0, 2, size=(2, 3, 7, 9)).astype(np.float32)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    x[1, 1] = -np.inf
    ours, our_indices = F.adaptive_max_pool2d(cnnkit.tensor(x), (3, 4), return_indices=True)
    theirs, their_indices = TF.adaptive_max_pool2d(torch.tensor(x), (3, 4), return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(our_indices.numpy(), their_indices.numpy())


def test_adaptive_pool_to_zero_size_is_empty_like_torch() -> None:
    x = cnnkit.tensor(np.ones((2, 3, 5, 5), dtype=np.float32))
    assert F.adaptive_avg_pool2d(x, 0).shape == (2, 3, 0, 0)
    assert F.adaptive_max_pool2d(x, (0, 2)).shape == (2, 3, 0, 2)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_pools_finite_differences(n: int) -> None:
    x = distinct_values((2, 2) + (7, 5, 4)[:n], n, np.float64)
    sizes = (3, 4, 2)[:n]
    check_gradients(lambda t: getattr(F, f"adaptive_avg_pool{n}d")(t, sizes), [x])
    check_gradients(lambda t: getattr(F, f"adaptive_max_pool{n}d")(t, sizes), [x])
    check_gradients(lambda t: getattr(F, f"adaptive_avg_pool{n}d")(t, 1), [x])


# --- max unpooling ----------------------------------------------------------------------------
@settings(max_examples=settings.default.max_examples * 4)
@given(case=windows(dilation=False), target=st.sampled_from(["default", "input", "largest"]))
def test_max_unpool_matches_torch(case: dict, target: str) -> None:
    n, shape, seed = case.pop("n"), case.pop("shape"), case.pop("seed")
    del case["dilation"], case["ceil_mode"]
    x = distinct_values(shape, seed)
    _, indices = getattr(TF, f"max_pool{n}d")(torch.tensor(x), **case, return_indices=True)
    # Overlapping windows can pick the same input twice; torch then keeps whichever write lands
    # last, so each index gets one value and the result does not depend on write order.
    index_values = np.random.default_rng(seed).standard_normal(int(indices.max()) + 1)
    pooled = index_values[indices.numpy()].astype(np.float32)
    kernel = np.broadcast_to(case["kernel_size"], (n,))
    stride = kernel if case["stride"] is None else np.broadcast_to(case["stride"], (n,))
    default = (np.array(indices.shape[-n:]) - 1) * stride - 2 * np.array(case["padding"]) + kernel
    sizes = {"default": default, "input": np.array(shape[-n:]), "largest": default + stride - 1}
    output_size = tuple(int(v) for v in sizes[target])
    # PyTorch's own limits: sizes within stride of the default, every index inside the plane.
    assume(np.all(np.abs(np.array(output_size) - default) < stride))
    assume(min(output_size) > 0 and int(indices.max()) < np.prod(output_size))
    ours, theirs = ours_and_theirs("max_unpool", n)
    index_np = indices.numpy()
    check_against_torch(
        lambda t: ours(t, cnnkit.tensor(index_np), **case, output_size=output_size),
        lambda t: theirs(t, torch.from_numpy(index_np), **case, output_size=output_size),
        [pooled],
    )


def test_max_unpool_inverts_max_pool2d() -> None:
    x = distinct_values((2, 3, 6, 8), 0, np.float64)
    pooled, indices = F.max_pool2d(cnnkit.tensor(x), 2, return_indices=True)
    restored = F.max_unpool2d(pooled, indices, 2).numpy()
    kept = restored != 0
    np.testing.assert_array_equal(restored[kept], x[kept])
    assert kept.sum() == pooled.numel()
    check_gradients(lambda t: F.max_unpool2d(t, indices, 2), [pooled.numpy()])


# --- argument errors --------------------------------------------------------------------------
def _x(*shape: int) -> cnnkit.Tensor:
    return cnnkit.tensor(np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.max_pool2d(_x(4, 4), 2), ValueError, "3-D or 4-D"),
        (lambda: F.max_pool1d(_x(2, 2, 3, 4), 2), ValueError, "2-D or 3-D"),
        (lambda: F.max_pool2d(_x(1, 0, 4, 4), 2), ValueError, "non-empty"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 0), ValueError, "kernel_size"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, stride=0), ValueError, "stride"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, dilation=0), ValueError, "dilation"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, padding=-1), ValueError, "padding"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, padding=2), ValueError, "padding"),
        # PyTorch's rule uses the plain kernel size: dilation does not allow more padding.
        (lambda: F.max_pool2d(_x(1, 1, 9, 9), 3, padding=2, dilation=2), ValueError, "padding"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 5), ValueError, "too small"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), (2, 2, 2)), TypeError, "kernel_size"),
        (lambda: F.max_pool2d(_x(1, 1, 4, 4), 2.0), TypeError, "kernel_size"),
        (lambda: F.max_pool2d(cnnkit.tensor(np.ones((1, 4, 4), int)), 2), TypeError, "dtype"),
        (lambda: F.max_pool2d("x", 2), TypeError, "input"),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 3, padding=2), ValueError, "padding"),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=0), ValueError, "divisor"),
        (lambda: F.avg_pool2d(_x(1, 1, 4, 4), 2, divisor_override=2.5), TypeError, "divisor"),
        (lambda: F.avg_pool3d(_x(1, 1, 2, 4, 4), 3), ValueError, "too small"),
        (lambda: F.avg_pool3d(_x(1, 1, 1, 4, 4), 2, padding=1), ValueError, "smaller than"),
        (lambda: F.avg_pool1d(_x(1, 1, 4), 2, stride=-1), ValueError, "stride"),
        (lambda: F.lp_pool2d(_x(1, 1, 4, 4), 0, 2), ValueError, "norm_type"),
        (lambda: F.lp_pool2d(_x(1, 1, 4, 4), "2", 2), TypeError, "norm_type"),
        (lambda: F.lp_pool2d(_x(1, 1, 4, 4), 2, 5), ValueError, "too small"),
        (lambda: F.adaptive_avg_pool2d(_x(1, 1, 4, 4), -1), ValueError, "output_size"),
        (lambda: F.adaptive_avg_pool2d(_x(1, 1, 4, 4), (2, 2, 2)), TypeError, "output_size"),
        (lambda: F.adaptive_max_pool2d(_x(1, 4, 4, 4, 4), 2), ValueError, "3-D or 4-D"),
        (lambda: F.adaptive_max_pool1d(_x(1, 4, 4), (1, -2)), TypeError, "output_size"),
    ],
)
def test_bad_pool_arguments_raise(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def _indices(*shape: int, value: int = 0) -> cnnkit.Tensor:
    return cnnkit.tensor(np.full(shape, value, dtype=np.int64))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 2, 2), 2), ValueError, "indices"),
        (
            lambda: F.max_unpool2d(
                _x(1, 1, 2, 2), cnnkit.tensor(np.zeros((1, 1, 2, 2), np.int32)), 2
            ),
            TypeError,
            "indices",
        ),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2, value=16), 2),
            ValueError,
            "indices",
        ),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2, value=-1), 2),
            ValueError,
            "indices",
        ),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2), 2, output_size=(6, 6)),
            ValueError,
            "output_size",
        ),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2), 2, output_size=(2, 4)),
            ValueError,
            "output_size",
        ),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2), 2, output_size=(4,)),
            ValueError,
            "output_size",
        ),
        (lambda: F.max_unpool2d(_x(2, 2), _indices(2, 2), 2), ValueError, "3-D or 4-D"),
        (
            lambda: F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2), 0),
            ValueError,
            "kernel_size",
        ),
    ],
)
def test_bad_unpool_arguments_raise(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_unpool_accepts_full_output_size_like_torch() -> None:
    out = F.max_unpool2d(_x(1, 1, 2, 2), _indices(1, 1, 2, 2), 2, output_size=(1, 1, 5, 5))
    assert out.shape == (1, 1, 5, 5)


@pytest.mark.parametrize(
    "name",
    ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg"],
)
def test_empty_batch_like_torch(name: str) -> None:
    calls = {
        "max_pool2d": lambda f, t: f.max_pool2d(t, 3, 2, 1),
        "avg_pool2d": lambda f, t: f.avg_pool2d(t, 3, 2, 1),
        "adaptive_avg_pool2d": lambda f, t: f.adaptive_avg_pool2d(t, 3),
        "adaptive_max_pool2d": lambda f, t: f.adaptive_max_pool2d(t, 3),
        "global_avg": lambda f, t: f.adaptive_avg_pool2d(t, 1),
    }
    x = np.zeros((0, 3, 8, 8), dtype=np.float32)
    check_against_torch(lambda t: calls[name](F, t), lambda t: calls[name](TF, t), [x])
