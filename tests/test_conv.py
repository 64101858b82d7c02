"""Convolution and transposed convolution (1-D, 2-D, 3-D) against PyTorch.

Hypothesis draws shapes, stride, padding (ints, tuples, 'same', 'valid'), dilation, groups
(dense, grouped, depthwise), bias, output_padding and batching; each case checks the forward
values and the gradients of input, weight and bias. Then float64 finite differences for each
op, a sweep with tiny im2col pieces and forced threading (so the chunking and the thread split
are exercised on small shapes), and one error test per bad argument.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import numpy as np
import pytest
import torch.nn.functional as torch_F
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F

# torch warns that 'same' with even kernels pads a copy; that is the case we want to test
# the ops package re-exports the function `conv`, which shadows the module as an attribute
conv_module = importlib.import_module("cnnkit.ops.conv")

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

DIMS = (1, 2, 3)
CONV_MODES = ("dense", "grouped", "depthwise", "same", "valid", "tuples", "unbatched", "strided")
TRANSPOSE_MODES = ("dense", "grouped", "depthwise", "output_padding", "unbatched", "strided")


@contextlib.contextmanager
def tiny_pieces_and_threads() -> Iterator[None]:
    """Make every im2col piece a few rows and always split the work between 2 threads (a
    single image over its output rows)."""
    names = ("_CHUNK_BYTES", "_MIN_PARALLEL_BYTES", "_MIN_ROW_SPLIT_BYTES")
    saved = [getattr(conv_module, name) for name in names]
    threads = cnnkit.get_num_threads()
    for name, value in zip(names, (256, 0, 0), strict=True):
        setattr(conv_module, name, value)
    cnnkit.set_num_threads(2)
    try:
        yield
    finally:
        for name, value in zip(names, saved, strict=True):
            setattr(conv_module, name, value)
        cnnkit.set_num_threads(threads)


def random_array(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def positive_array(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values in [0.5, 1.5): sums cannot cancel, so a tiny output (one value, say) is never
    mostly float32 rounding noise, which the tolerance relative to max|ref| cannot absorb."""
    return rng.uniform(0.5, 1.5, shape).astype(np.float32)


# --- convolution ------------------------------------------------------------------------------
@st.composite
def conv_cases(draw: st.DrawFn, d: int, mode: str) -> dict:
    """Arguments of one convolution; the input is always large enough for the kernel."""
    small = d == 3
    groups = draw(st.integers(2, 3)) if mode == "grouped" else 1
    # up to 5 channels: inputs of <= 3 channels take the channel-major path, more the other
    in_per_group = draw(st.integers(1, 4 if small else 5))
    out_per_group = draw(st.integers(1, 2 if small else 3))
    if mode == "depthwise":
        groups, in_per_group = draw(st.integers(2, 4)), 1
    max_kernel = 3 if small else 4
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(d))
    if mode == "tuples":
        stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
        dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
        padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    else:
        stride = draw(st.integers(1, 3 if mode == "strided" else 2))
        stride = 1 if mode == "same" else stride
        dilation = draw(st.integers(1, 3 if mode == "same" else 2))
        padding = {"same": "same", "valid": "valid"}.get(mode, draw(st.integers(0, 2)))
    strides = (stride,) * d if isinstance(stride, int) else stride
    dilations = (dilation,) * d if isinstance(dilation, int) else dilation
    pads = padding if isinstance(padding, tuple) else (padding,) * d
    size = []
    for k, dl, p in zip(kernel, dilations, pads, strict=True):
        pad = 0 if isinstance(p, str) else p
        smallest = 1 if p == "same" else max(1, dl * (k - 1) + 1 - 2 * pad)
        size.append(smallest + draw(st.integers(0, 2 if small else 4)))
    batch = None if mode == "unbatched" else draw(st.integers(1, 3))
    in_channels = in_per_group * groups
    return {
        "input": (in_channels, *size) if batch is None else (batch, in_channels, *size),
        "weight": (out_per_group * groups, in_per_group, *kernel),
        "bias": draw(st.booleans()),
        "kwargs": {
            "stride": stride if isinstance(stride, tuple) else strides[0],
            "padding": padding,
            "dilation": dilation if isinstance(dilation, tuple) else dilations[0],
            "groups": groups,
        },
    }


def check_conv_case(d: int, case: dict, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inputs = [positive_array(rng, case["input"]), positive_array(rng, case["weight"])]
    if case["bias"]:
        inputs.append(positive_array(rng, case["weight"][:1]))
    kwargs = case["kwargs"]
    ours, theirs = getattr(F, f"conv{d}d"), getattr(torch_F, f"conv{d}d")
    check_against_torch(
        lambda *args: ours(*args, **kwargs), lambda *args: theirs(*args, **kwargs), inputs
    )


@pytest.mark.parametrize("mode", CONV_MODES)
@pytest.mark.parametrize("d", DIMS)
def test_conv_matches_torch(d, mode):
    @given(conv_cases(d, mode))
    def sweep(case):
        check_conv_case(d, case)

    sweep()


@pytest.mark.parametrize("d", DIMS)
def test_conv_in_tiny_pieces_on_two_threads(d):
    @given(st.sampled_from(CONV_MODES).flatmap(lambda mode: conv_cases(d, mode)))
    def sweep(case):
        with tiny_pieces_and_threads():
            check_conv_case(d, case)

    sweep()


@pytest.mark.parametrize(
    ("weight_shape", "kwargs"),
    [
        ((4, 3, 3, 3), {"padding": 1}),
        ((4, 3, 3, 3), {"stride": 2, "padding": 1}),
        ((4, 3, 2, 3), {"padding": "same", "dilation": 2}),
        ((6, 1, 3, 3), {"groups": 3, "stride": 2}),
        ((6, 1, 3, 3), {"groups": 3, "padding": 1}),
        ((3, 3, 1, 1), {}),
        ((64, 3, 3, 3), {"padding": 1}),
    ],
)
def test_conv2d_larger_images_threads_and_many_pieces(weight_shape, kwargs, rng):
    x = random_array(rng, (4, 3, 40, 36))
    w = random_array(rng, weight_shape)
    check_against_torch(
        lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: torch_F.conv2d(x, w, **kwargs), [x, w]
    )


@pytest.mark.parametrize(
    ("d", "weight_shape", "kwargs"),
    [
        (1, (4, 3, 3), {"stride": 2, "padding": 1, "dilation": 2}),
        (1, (4, 1, 2), {"groups": 2, "padding": "same"}),
        (2, (4, 3, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
        (2, (6, 1, 3, 3), {"groups": 3, "stride": 2, "padding": 1}),
        (2, (6, 1, 3, 3), {"groups": 3, "dilation": 2, "padding": 2}),
        (3, (2, 3, 2, 2, 2), {"stride": 2, "padding": 1}),
        (3, (3, 1, 2, 3, 2), {"groups": 3, "padding": "same"}),
    ],
)
def test_conv_float64_finite_differences(d, weight_shape, kwargs, rng):
    channels = weight_shape[1] * kwargs.get("groups", 1)
    x = rng.standard_normal((2, channels, *[5] * d))
    w = rng.standard_normal(weight_shape)
    b = rng.standard_normal(weight_shape[0])
    check_gradients(lambda x, w, b: getattr(F, f"conv{d}d")(x, w, b, **kwargs), [x, w, b])


def test_conv_accepts_ndarrays_and_keeps_float64(rng):
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    out = F.conv2d(x, w)
    assert isinstance(out, cnnkit.Tensor)
    assert out.dtype == np.float64 and out.shape == (1, 3, 3, 3)


def test_conv_output_feeds_next_conv(rng):
    """The channels-last view one conv returns is a valid input (and gradient) for the next."""
    x, w1, w2 = (random_array(rng, s) for s in [(2, 3, 9, 9), (4, 3, 3, 3), (5, 4, 3, 3)])
    check_against_torch(
        lambda x, w1, w2: F.conv2d(F.conv2d(x, w1, padding=1), w2, stride=2),
        lambda x, w1, w2: torch_F.conv2d(torch_F.conv2d(x, w1, padding=1), w2, stride=2),
        [x, w1, w2],
    )


# --- transposed convolution -------------------------------------------------------------------
@st.composite
def conv_transpose_cases(draw: st.DrawFn, d: int, mode: str) -> dict:
    small = d == 3
    groups = draw(st.integers(2, 3)) if mode == "grouped" else 1
    in_per_group = draw(st.integers(1, 2 if small else 3))
    out_per_group = draw(st.integers(1, 2 if small else 3))
    if mode == "depthwise":
        groups, in_per_group, out_per_group = draw(st.integers(2, 4)), 1, 1
    kernel = tuple(draw(st.integers(1, 3 if small else 4)) for _ in range(d))
    stride = draw(st.integers(1, 3 if mode in ("strided", "output_padding") else 2))
    dilation = draw(st.integers(1, 2))
    output_padding = (
        draw(st.integers(0, max(stride, dilation) - 1)) if mode == "output_padding" else 0
    )
    size = tuple(draw(st.integers(1, 3 if small else 5)) for _ in range(d))
    # the output, (i - 1)s - 2p + d(k - 1) + output_padding + 1, must stay positive
    room = min(
        ((i - 1) * stride + dilation * (k - 1) + output_padding) // 2
        for i, k in zip(size, kernel, strict=True)
    )
    padding = draw(st.integers(0, min(room, 2)))
    batch = None if mode == "unbatched" else draw(st.integers(1, 3))
    in_channels = in_per_group * groups
    return {
        "input": (in_channels, *size) if batch is None else (batch, in_channels, *size),
        "weight": (in_channels, out_per_group, *kernel),
        "bias": draw(st.booleans()),
        "kwargs": {
            "stride": stride,
            "padding": padding,
            "output_padding": output_padding,
            "groups": groups,
            "dilation": dilation,
        },
    }


def check_conv_transpose_case(d: int, case: dict, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inputs = [positive_array(rng, case["input"]), positive_array(rng, case["weight"])]
    if case["bias"]:
        inputs.append(positive_array(rng, (case["weight"][1] * case["kwargs"]["groups"],)))
    kwargs = case["kwargs"]
    ours = getattr(F, f"conv_transpose{d}d")
    theirs = getattr(torch_F, f"conv_transpose{d}d")
    check_against_torch(
        lambda *args: ours(*args, **kwargs), lambda *args: theirs(*args, **kwargs), inputs
    )


@pytest.mark.parametrize("mode", TRANSPOSE_MODES)
@pytest.mark.parametrize("d", DIMS)
def test_conv_transpose_matches_torch(d, mode):
    @given(conv_transpose_cases(d, mode))
    def sweep(case):
        check_conv_transpose_case(d, case)

    sweep()


@pytest.mark.parametrize("d", DIMS)
def test_conv_transpose_in_tiny_pieces_on_two_threads(d):
    @given(st.sampled_from(TRANSPOSE_MODES).flatmap(lambda mode: conv_transpose_cases(d, mode)))
    def sweep(case):
        with tiny_pieces_and_threads():
            check_conv_transpose_case(d, case)

    sweep()


@pytest.mark.parametrize(
    ("d", "weight_shape", "kwargs"),
    [
        (1, (3, 2, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        (1, (4, 1, 2), {"groups": 2, "dilation": 2, "output_padding": 1}),
        (2, (3, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0)}),
        (2, (4, 1, 3, 3), {"groups": 4, "stride": 2}),
        (2, (2, 3, 3, 3), {"padding": 1}),
        (3, (2, 2, 2, 2, 2), {"stride": 2, "output_padding": 1}),
    ],
)
def test_conv_transpose_float64_finite_differences(d, weight_shape, kwargs, rng):
    x = rng.standard_normal((2, weight_shape[0], *[4] * d))
    w = rng.standard_normal(weight_shape)
    b = rng.standard_normal(weight_shape[1] * kwargs.get("groups", 1))
    check_gradients(
        lambda x, w, b: getattr(F, f"conv_transpose{d}d")(x, w, b, **kwargs), [x, w, b]
    )


def test_conv_transpose2d_larger_images(rng):
    x, w = random_array(rng, (4, 8, 20, 18)), random_array(rng, (8, 6, 3, 3))
    for kwargs in ({"stride": 2, "padding": 1, "output_padding": 1}, {"padding": 1}):
        check_against_torch(
            lambda x, w, kwargs=kwargs: F.conv_transpose2d(x, w, **kwargs),
            lambda x, w, kwargs=kwargs: torch_F.conv_transpose2d(x, w, **kwargs),
            [x, w],
        )


# --- errors -----------------------------------------------------------------------------------
X2 = np.zeros((1, 4, 8, 8), np.float32)
W2 = np.zeros((6, 4, 3, 3), np.float32)
WT2 = np.zeros((4, 6, 3, 3), np.float32)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.conv2d(X2[0, 0], W2), ValueError, "input to be 3-D .* or 4-D"),
        (lambda: F.conv2d(X2[None], W2), ValueError, "input to be 3-D"),
        (lambda: F.conv2d(X2, W2[0]), ValueError, "weight to be 4-D"),
        (lambda: F.conv1d(X2, W2), ValueError, "weight to be 3-D"),
        (lambda: F.conv2d(X2[:, :3], W2), ValueError, "input has 3 channels"),
        (lambda: F.conv2d(X2, W2, groups=2), ValueError, "weight.shape\\[1\\] \\* groups"),
        (lambda: F.conv2d(X2, W2[:, :1], groups=4), ValueError, "divisible by groups=4"),
        (lambda: F.conv2d(X2, W2, groups=0), ValueError, "groups must be a positive"),
        (lambda: F.conv2d(X2, W2, groups=1.5), TypeError, "groups must be an int"),
        (lambda: F.conv2d(X2, W2, stride=0), ValueError, "stride must be positive"),
        (lambda: F.conv2d(X2, W2, stride=(1, -1)), ValueError, "stride must be positive"),
        (lambda: F.conv2d(X2, W2, stride=(1, 2, 3)), TypeError, "stride must be an int"),
        (lambda: F.conv2d(X2, W2, dilation=0), ValueError, "dilation must be positive"),
        (lambda: F.conv2d(X2, W2, padding=-1), ValueError, "padding must be non-negative"),
        (lambda: F.conv2d(X2, W2, padding="full"), ValueError, "padding=.full."),
        (lambda: F.conv2d(X2, W2, padding=1.5), TypeError, "padding must be an int"),
        (lambda: F.conv2d(X2, W2, padding="same", stride=2), ValueError, "strided"),
        (lambda: F.conv2d(X2, W2[..., :0]), ValueError, "positive sizes"),
        (lambda: F.conv2d(X2, np.zeros((6, 4, 9, 3), np.float32)), ValueError, "too small"),
        (lambda: F.conv2d(X2, W2, dilation=4), ValueError, "input too small"),
        (lambda: F.conv2d(X2, W2, np.zeros(5, np.float32)), ValueError, "bias of shape \\(6,\\)"),
        (lambda: F.conv2d(X2, W2, np.zeros((6, 1), np.float32)), ValueError, "bias of shape"),
        (lambda: F.conv2d(X2, W2, np.zeros(6)), TypeError, "bias dtype float64"),
        (lambda: F.conv2d(X2, W2.astype(np.float64)), TypeError, "weight dtype float64"),
        (lambda: F.conv2d(X2.astype(np.int64), W2), TypeError, "input must be a floating"),
        (lambda: F.conv2d("image", W2), TypeError, "input must be a Tensor"),
        (lambda: F.conv3d(X2, W2), ValueError, "weight to be 5-D"),
        (lambda: F.conv_transpose2d(X2[0, 0], WT2), ValueError, "input to be 3-D"),
        (lambda: F.conv_transpose2d(X2, WT2[:3]), ValueError, "input has 4 channels"),
        (lambda: F.conv_transpose2d(X2, WT2, groups=3), ValueError, "divisible by groups=3"),
        (lambda: F.conv_transpose2d(X2, WT2, stride=0), ValueError, "stride must be positive"),
        (lambda: F.conv_transpose2d(X2, WT2, padding=-1), ValueError, "padding must be non-neg"),
        (lambda: F.conv_transpose2d(X2, WT2, padding="same"), TypeError, "padding must be an"),
        (
            lambda: F.conv_transpose2d(X2, WT2, output_padding=-1),
            ValueError,
            "output_padding must be non-negative",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT2, stride=2, output_padding=2),
            ValueError,
            "output_padding must be smaller than either stride or dilation",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT2, output_padding=1),
            ValueError,
            "output_padding must be smaller",
        ),
        (lambda: F.conv_transpose2d(X2, WT2, padding=10), ValueError, "input too small"),
        (lambda: F.conv_transpose2d(X2, WT2, dilation=0), ValueError, "dilation must be pos"),
        (
            lambda: F.conv_transpose2d(X2, WT2, np.zeros(4, np.float32)),
            ValueError,
            "bias of shape \\(6,\\)",
        ),
        (lambda: F.conv_transpose2d(X2, WT2.astype(np.float64)), TypeError, "dtype"),
        (lambda: F.conv_transpose1d(X2, WT2), ValueError, "weight to be 3-D"),
    ],
)
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_output_padding_allowed_below_dilation(rng):
    """op >= stride is fine while op < dilation (PyTorch's 'either' rule)."""
    x, w = random_array(rng, (1, 2, 4, 4)), random_array(rng, (2, 3, 3, 3))
    kwargs = {"output_padding": 1, "dilation": 2}
    check_against_torch(
        lambda x, w: F.conv_transpose2d(x, w, **kwargs),
        lambda x, w: torch_F.conv_transpose2d(x, w, **kwargs),
        [x, w],
    )



@pytest.mark.parametrize(
    ("weight_shape", "kwargs"),
    [
        ((6, 4, 3, 3), {"padding": 1}),
        ((6, 4, 3, 3), {"stride": 2}),
        ((6, 2, 3, 3), {"groups": 2}),
        ((8, 1, 3, 3), {"groups": 4, "padding": 1}),
        ((6, 4, 1, 1), {}),
        ((6, 3, 3, 3), {"padding": 1}),
    ],
)
def test_conv2d_empty_batch(weight_shape, kwargs, rng):
    channels = weight_shape[1] * kwargs.get("groups", 1)
    x, w = np.zeros((0, channels, 6, 6), np.float32), random_array(rng, weight_shape)
    check_against_torch(
        lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: torch_F.conv2d(x, w, **kwargs), [x, w]
    )


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_transpose2d_empty_batch(stride, rng):
    x, w = np.zeros((0, 4, 5, 5), np.float32), random_array(rng, (4, 3, 3, 3))
    check_against_torch(
        lambda x, w: F.conv_transpose2d(x, w, stride=stride),
        lambda x, w: torch_F.conv_transpose2d(x, w, stride=stride),
        [x, w],
    )


def test_threaded_convs_from_several_threads_restore_blas_threads(rng):
    """Concurrent callers share the pool; BLAS returns to its thread count afterwards."""
    import threading

    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    x, w = random_array(rng, (8, 8, 24, 24)), random_array(rng, (8, 8, 3, 3))
    before = blas_threads()
    results = []

    def work() -> None:
        results.extend(F.conv2d(x, w, padding=1).numpy() for _ in range(3))

    with tiny_pieces_and_threads():
        expected = F.conv2d(x, w, padding=1).numpy()
        workers = [threading.Thread(target=work) for _ in range(3)]
        for worker in workers:
            worker.start()
        work()
        for worker in workers:
            worker.join()
    assert blas_threads() == before
    assert len(results) == 12
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_set_num_threads_rejects_non_positive():
    with pytest.raises(ValueError, match="num_threads must be a positive int, got 0"):
        cnnkit.set_num_threads(0)
