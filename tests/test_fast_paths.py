"""Fast paths against PyTorch and the plain paths: each test forces the fast path's corner
cases (many small cache blocks, several thread parts, padding per block, assigned vs accumulated
gradient offsets, single images split over output rows, the channel-major convolution paths,
BLAS held at one thread for small GEMMs)."""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import assert_close, check_against_torch
from threadpoolctl import threadpool_info

import cnnkit
import cnnkit.nn.functional as F
from cnnkit.ops import pool


@st.composite
def pool_cases(draw: st.DrawFn) -> dict:
    """A 2-D pooling configuration with several planes, so that blocks and parts differ."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return {
        "shape": (draw(st.integers(1, 3)), draw(st.integers(1, 5)))
        + tuple(k + draw(st.integers(0, 7)) for k in kernel),
        "kernel_size": kernel,
        "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        "padding": tuple(draw(st.integers(0, k // 2)) for k in kernel),
        "ceil_mode": draw(st.booleans()),
        # planes per cache block: 1, a few, or all (blocks then do not divide the parts evenly)
        "block_planes": draw(st.sampled_from([1, 2, 3, 1000])),
        "threads": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**16)),
    }


def _run_blocked(case: dict, check: callable) -> None:
    """Run ``check`` with blocks of ``block_planes`` padded planes and every part threaded."""
    height, width = (
        size + 2 * p + s * k  # room for a ceil-mode overhang
        for size, p, s, k in zip(
            case["shape"][2:], case["padding"], case["stride"], case["kernel_size"], strict=True
        )
    )
    block_bytes = case["block_planes"] * height * width * 4
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(case["threads"])
    try:
        with (
            mock.patch.object(pool, "_BLOCK_BYTES", block_bytes),
            mock.patch.object(pool, "_MIN_PART_WORK", 1),
        ):
            check()
    finally:
        cnnkit.set_num_threads(previous)


def _distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """No ties, so the max-pool gradient is routed the same way whatever the tie rule."""
    size = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(size) - size / 2
    return (values / size).reshape(shape).astype(np.float32)


@settings(max_examples=settings.default.max_examples * 2)
@given(case=pool_cases())
def test_blocked_max_pool_matches_torch(case: dict) -> None:
    x = _distinct(case["shape"], case["seed"])
    kwargs = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}

    def check() -> None:
        check_against_torch(
            lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), [x]
        )
        values, indices = F.max_pool2d(cnnkit.tensor(x), **kwargs, return_indices=True)
        expected, expected_indices = TF.max_pool2d(torch.tensor(x), **kwargs, return_indices=True)
        np.testing.assert_array_equal(values.numpy(), expected.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected_indices.numpy())
        with cnnkit.no_grad():
            np.testing.assert_array_equal(
                F.max_pool2d(cnnkit.tensor(x), **kwargs).numpy(), expected.numpy()
            )

    _run_blocked(case, check)


@settings(max_examples=settings.default.max_examples * 2)
@given(case=pool_cases(), count_include_pad=st.booleans())
def test_blocked_avg_pool_matches_torch(case: dict, count_include_pad: bool) -> None:
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"]).astype(np.float32)
    kwargs = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    kwargs["count_include_pad"] = count_include_pad

    def check() -> None:
        check_against_torch(
            lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), [x]
        )

    _run_blocked(case, check)


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"),
    [
        ((3, 3), (2, 2), (1, 1)),
        ((2, 2), (2, 2), (1, 1)),
        ((3, 2), (1, 3), (2, 1)),
        ((4,), (2,), (3,)),
    ],
)
def test_assigned_gradient_offsets_write_disjoint_positions(
    kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> None:
    assigned, accumulated = pool._route_order(kernel, stride, dilation)
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    assert sorted(assigned + accumulated) == list(range(len(offsets)))
    residues = [
        tuple((j * d) % s for j, s, d in zip(offsets[code], stride, dilation, strict=True))
        for code in assigned
    ]
    assert len(set(residues)) == len(residues)  # disjoint lattices of input positions
    non_overlapping = all(
        s >= (k - 1) * d + 1 for k, s, d in zip(kernel, stride, dilation, strict=True)
    )
    assert (not accumulated) == non_overlapping


# --- convolution fast paths ---------------------------------------------------------------------
conv_module = importlib.import_module("cnnkit.ops.conv")  # `cnnkit.ops.conv` is the function
parallel_module = importlib.import_module("cnnkit.ops._parallel")


@contextlib.contextmanager
def _conv_settings(threads: int, **constants: int) -> Iterator[None]:
    """Run with ``threads`` threads and the given conv module constants, restored after."""
    saved = {name: getattr(conv_module, name) for name in constants}
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(threads)
    try:
        for name, value in constants.items():
            setattr(conv_module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(conv_module, name, value)
        cnnkit.set_num_threads(previous)


def _check_conv(d: int, x: np.ndarray, w: np.ndarray, bias: bool, **kwargs: object) -> None:
    inputs = [x, w] + ([np.linspace(-1, 1, w.shape[0], dtype=x.dtype)] if bias else [])
    ours, theirs = getattr(F, f"conv{d}d"), getattr(TF, f"conv{d}d")
    check_against_torch(
        lambda *args: ours(*args, **kwargs), lambda *args: theirs(*args, **kwargs), inputs
    )


ROW_SPLIT_CASES = [
    # (d, input shape, weight shape, kwargs): single images, split over their output rows
    (2, (1, 5, 13, 11), (4, 5, 3, 3), {"padding": 1}),
    (2, (1, 6, 16, 9), (8, 6, 3, 3), {"stride": 2, "padding": 1}),
    (2, (1, 4, 12, 12), (6, 2, 3, 2), {"groups": 2, "dilation": 2, "padding": (2, 1)}),
    (2, (1, 4, 11, 10), (8, 1, 3, 3), {"groups": 4, "padding": 1}),  # depthwise
    (2, (1, 6, 7, 7), (5, 6, 1, 1), {"stride": 2}),
    (1, (1, 5, 19), (3, 5, 4), {"stride": 3, "padding": 2}),
    (3, (1, 4, 5, 6, 4), (3, 4, 2, 3, 2), {"padding": 1}),
]


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize(("d", "input_shape", "weight_shape", "kwargs"), ROW_SPLIT_CASES)
def test_single_image_split_over_output_rows_matches_torch(
    d, input_shape, weight_shape, kwargs, threads, rng
):
    """Batch 1 forces the row split (and several im2col pieces per part); gradients included:
    the weight gradient sums per-part partials, the input gradient stays split by sample."""
    x = rng.standard_normal(input_shape).astype(np.float32)
    w = rng.standard_normal(weight_shape).astype(np.float32)
    with _conv_settings(threads, _MIN_ROW_SPLIT_BYTES=0, _MIN_PARALLEL_BYTES=0, _CHUNK_BYTES=512):
        assert len(conv_module._split_outputs(1, 5, 1 << 30)) == min(threads, 5)
        _check_conv(d, x, w, bias=True, **kwargs)
        with cnnkit.no_grad():  # the inference path on its own
            expected = getattr(TF, f"conv{d}d")(torch.from_numpy(x), torch.from_numpy(w), **kwargs)
            ours = getattr(F, f"conv{d}d")(x, w, **kwargs)
            assert_close(ours.numpy(), expected.numpy(), 1e-5, "no-grad forward")


@st.composite
def narrow_cases(draw: st.DrawFn) -> dict:
    """Convolutions whose input has 1-3 channels: the channel-major first-layer path."""
    d = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3 if d == 3 else 5)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    size = tuple(
        max(1, dl * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 5))
        for k, dl, p in zip(kernel, dilation, padding, strict=True)
    )
    channels = draw(st.integers(1, 3))
    return {
        "d": d,
        "input": (draw(st.integers(1, 5)), channels, *size),
        "weight": (draw(st.integers(1, 6)), channels, *kernel),
        "kwargs": {
            "stride": tuple(draw(st.integers(1, 3)) for _ in range(d)),
            "padding": padding,
            "dilation": dilation,
        },
        "bias": draw(st.booleans()),
        "threads": draw(st.integers(1, 3)),
        "seed": draw(st.integers(0, 2**16)),
    }


@given(case=narrow_cases())
def test_narrow_channel_path_matches_torch_and_the_plain_path(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["input"]).astype(np.float32)
    w = rng.standard_normal(case["weight"]).astype(np.float32)
    d, kwargs = case["d"], case["kwargs"]
    with _conv_settings(case["threads"], _MIN_PARALLEL_BYTES=0):
        _check_conv(d, x, w, case["bias"], **kwargs)
        narrow = getattr(F, f"conv{d}d")(x, w, **kwargs).numpy()
        with mock.patch.object(conv_module, "_NARROW_CHANNELS", 0):
            plain = getattr(F, f"conv{d}d")(x, w, **kwargs).numpy()
    assert_close(narrow, plain, 1e-5, "narrow path against the channels-last path")


COL2IM_CASES = [
    # (weight GEMM shape (groups, *K, in/groups, out/groups), input size, geometry arguments)
    ((1, 5, 5, 6, 16), (14, 14), {}),
    ((1, 3, 3, 3, 8), (15, 12), {"stride": (2, 2), "pad": (1, 1)}),
    ((2, 3, 2, 2, 3), (11, 9), {"stride": (2, 3), "dilation": (2, 1), "pad": (2, 0)}),
    ((1, 4, 2, 5), (17,), {"stride": (3,), "pad": (1,)}),
    ((1, 2, 2, 3, 2, 4), (6, 7, 8), {"stride": (1, 2, 2)}),
    # 2-d stride 1: the wide-row route (dilation, groups, even kernels, uneven padding)
    ((1, 3, 3, 4, 8), (9, 11), {"dilation": (2, 1), "pad": (2, 1)}),
    ((2, 3, 3, 2, 5), (10, 7), {"pad": (1, 1)}),
    ((1, 2, 4, 3, 6), (8, 9), {"pairs": ((0, 1), (2, 1))}),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("weight_shape", "input_size", "arguments"), COL2IM_CASES)
def test_channel_major_col2im_matches_channels_last(
    weight_shape, input_size, arguments, threads, rng
):
    d = len(input_size)
    pad = arguments.get("pad", (0,) * d)
    geometry = conv_module._conv_geometry(
        weight_shape[1 : d + 1],
        arguments.get("stride", (1,) * d),
        arguments.get("dilation", (1,) * d),
        arguments.get("pairs", tuple((p, p) for p in pad)),
    )
    out_size = geometry.output_size(input_size)
    groups, out_per_group = weight_shape[0], weight_shape[-1]
    grad = rng.standard_normal((3, *out_size, groups * out_per_group)).astype(np.float32)
    weight = rng.standard_normal(weight_shape).astype(np.float32)
    pad = mock.patch.object(conv_module, "_pad", wraps=conv_module._pad)
    with _conv_settings(threads, _MIN_PARALLEL_BYTES=0, _CHUNK_BYTES=256), pad as padding:
        channel_major = conv_module._col2im_input_grad(grad, weight, geometry, input_size, True)
        channels_last = conv_module._col2im_input_grad(grad, weight, geometry, input_size, False)
    assert channel_major.shape == channels_last.shape == (3, *input_size, weight_shape[-2] * groups)
    assert_close(channel_major, channels_last, 1e-5, "channel-major col2im")
    # the wide-row route (which pads the gradient's rows) is taken exactly for 2-d stride 1
    assert padding.called == (d == 2 and geometry.stride == (1, 1))


def test_wide_row_col2im_leaves_non_finite_weights_to_the_plain_route(rng):
    # past each row's end the wide route multiplies zeros by the weights: 0 * inf is NaN
    geometry = conv_module._conv_geometry((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    grad = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    weight = rng.standard_normal((1, 3, 3, 4, 8)).astype(np.float32)
    weight[0, 1, 1, 2, 3] = np.inf
    channel_major = conv_module._col2im_input_grad(grad, weight, geometry, (6, 6), True)
    channels_last = conv_module._col2im_input_grad(grad, weight, geometry, (6, 6), False)
    np.testing.assert_array_equal(np.isnan(channel_major), np.isnan(channels_last))
    assert np.isinf(channel_major).any() and not np.isnan(channel_major[..., :2]).any()
    finite = np.isfinite(channels_last)
    assert_close(channel_major[finite], channels_last[finite], 1e-5, "finite entries")


def _blas_threads() -> list[int]:
    """Thread counts of NumPy's BLAS (SciPy, once imported by another test, brings its own)."""
    numpy_dir = os.path.dirname(np.__file__) + ".libs"
    return [
        info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas" and info["filepath"].startswith(numpy_dir)
    ]


def test_small_gemms_hold_blas_at_one_thread_and_restore_it():
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(2)
    try:
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with parallel_module.small_gemm_blas(parallel_module.SMALL_GEMM_FLOPS - 1):
            assert all(n == 1 for n in _blas_threads())
            with parallel_module.small_gemm_blas(1):  # nested: still one, restored by the outer
                assert all(n == 1 for n in _blas_threads())
            assert all(n == 1 for n in _blas_threads())
        assert _blas_threads() == before
        with parallel_module.small_gemm_blas(parallel_module.SMALL_GEMM_FLOPS):
            assert _blas_threads() == before  # a large GEMM keeps every thread
    finally:
        cnnkit.set_num_threads(previous)


def test_memory_bound_products_hold_blas_at_one_thread(rng):
    # OpenBLAS workers spin ~0.1 s after a threaded call, taking a core from cnnkit's own
    # threads: a conv2d with bias ran forward+backward at one core's speed (N32 C256 8^2:
    # 100-120 ms instead of 53-68 ms at 2 threads).
    previous = cnnkit.get_num_threads()
    seen = []

    @contextlib.contextmanager
    def recording():
        with parallel_module.single_threaded_blas():
            seen.append(_blas_threads())
            yield

    try:
        cnnkit.set_num_threads(1)
        with parallel_module.single_threaded_blas():
            assert all(n == 1 for n in _blas_threads())
        cnnkit.set_num_threads(2)
        with parallel_module.single_threaded_blas():
            assert all(n == 1 for n in _blas_threads())
        assert all(n == 2 for n in _blas_threads())
        x = rng.standard_normal((4, 8, 6, 6)).astype(np.float32)
        w = rng.standard_normal((5, 8, 3, 3)).astype(np.float32)
        b = rng.standard_normal(5).astype(np.float32)
        with (
            mock.patch.object(conv_module, "single_threaded_blas", recording),
            mock.patch.object(pool, "single_threaded_blas", recording),
        ):
            for function, reference in [
                (F.conv2d, TF.conv2d),  # the bias gradient
                (
                    lambda t: F.interpolate(t, scale_factor=2, mode="bilinear"),
                    lambda t: TF.interpolate(t, scale_factor=2, mode="bilinear"),
                ),
                (
                    lambda t: F.adaptive_avg_pool2d(t, 4),
                    lambda t: TF.adaptive_avg_pool2d(t, 4),
                ),
            ]:
                calls = len(seen)
                arguments = [x, w, b] if function is F.conv2d else [x]
                check_against_torch(function, reference, arguments)
                assert len(seen) > calls
        assert all(n == 1 for threads in seen for n in threads)
    finally:
        cnnkit.set_num_threads(previous)


@pytest.mark.parametrize("shape", [(64, 120, 84), (3, 512, 1024)])
def test_linear_and_matmul_small_and_large_gemms_match_torch(shape, rng):
    rows, inner, columns = shape
    x = rng.standard_normal((rows, inner)).astype(np.float32)
    w = rng.standard_normal((columns, inner)).astype(np.float32)
    b = rng.standard_normal(columns).astype(np.float32)
    previous = cnnkit.get_num_threads()
    cnnkit.set_num_threads(2)
    try:
        check_against_torch(F.linear, TF.linear, [x, w, b])
        check_against_torch(lambda p, q: p @ q, lambda p, q: p @ q, [x, w.T.copy()])
        assert all(n == 2 for n in _blas_threads())
    finally:
        cnnkit.set_num_threads(previous)


def test_memoised_conv_arguments_see_every_new_or_mutated_argument(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    stride = (1, 1)
    assert F.conv2d(x, w, stride=stride).shape == (1, 3, 4, 4)
    assert F.conv2d(x, w, stride=stride).shape == (1, 3, 4, 4)  # the memoised entry
    assert F.conv2d(x, w, stride=(2, 2)).shape == (1, 3, 2, 2)  # equal kernel, other stride
    with pytest.raises(TypeError, match="stride"):
        F.conv2d(x, w, stride=True)  # True == 1, but a bool is no stride
    listed = [1, 1]
    assert F.conv2d(x, w, stride=listed).shape == (1, 3, 4, 4)
    listed[0] = 0  # the same list object, now invalid: lists are never memoised
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv2d(x, w, stride=listed)
