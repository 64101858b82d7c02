"""unfold (im2col) and fold (col2im) against PyTorch: values and gradients.

Hypothesis draws image sizes, kernel sizes, dilation, padding and stride (ints and pairs), for
batched and unbatched inputs; float64 finite differences; one error test per bad argument.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as torch_F
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit.nn.functional as F

MODES = ("plain", "strided", "dilated", "padded", "pairs")


@st.composite
def sliding_cases(draw: st.DrawFn, mode: str, batched: bool) -> dict:
    """Image size, block arguments and batch for which at least one block fits."""

    def pair(low: int, high: int) -> tuple[int, int]:
        return (draw(st.integers(low, high)), draw(st.integers(low, high)))

    kernel = pair(1, 4)
    stride = pair(1, 3) if mode in ("strided", "pairs") else (1, 1)
    dilation = pair(1, 3) if mode in ("dilated", "pairs") else (1, 1)
    padding = pair(0, 2) if mode in ("padded", "pairs") else (0, 0)
    size = tuple(
        max(1, dl * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
        for k, dl, p in zip(kernel, dilation, padding, strict=True)
    )
    as_ints = mode != "pairs" and draw(st.booleans())
    kwargs = {"kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}
    if as_ints:  # the int form, where both dims agree
        kwargs = {k: v[0] if v[0] == v[1] else v for k, v in kwargs.items()}
    return {
        "size": size,
        "channels": draw(st.integers(1, 3)),
        "batch": draw(st.integers(1, 3)) if batched else None,
        "kwargs": kwargs,
    }


def leading(case: dict) -> tuple[int, ...]:
    return () if case["batch"] is None else (case["batch"],)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_unfold_matches_torch(mode, batched):
    @given(sliding_cases(mode, batched))
    def sweep(case):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((*leading(case), case["channels"], *case["size"]))
        kwargs = case["kwargs"]
        check_against_torch(
            lambda x: F.unfold(x, **kwargs),
            lambda x: torch_F.unfold(x, **kwargs),
            [x.astype(np.float32)],
        )

    sweep()


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_fold_matches_torch(mode, batched):
    @given(sliding_cases(mode, batched))
    def sweep(case):
        kwargs = case["kwargs"]
        probe = np.zeros((1, case["channels"], *case["size"]), np.float32)
        rows, blocks = F.unfold(probe, **kwargs).shape[1:]
        rng = np.random.default_rng(0)
        # positive values: overlapping blocks add up without cancelling (see test_conv)
        columns = rng.uniform(0.5, 1.5, (*leading(case), rows, blocks)).astype(np.float32)
        check_against_torch(
            lambda c: F.fold(c, case["size"], **kwargs),
            lambda c: torch_F.fold(c, case["size"], **kwargs),
            [columns],
        )

    sweep()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": (3, 2), "stride": 2, "padding": 1},
        {"kernel_size": 2, "dilation": 2, "padding": (0, 1)},
    ],
)
def test_unfold_and_fold_float64_finite_differences(kwargs, rng):
    x = rng.standard_normal((2, 2, 5, 6))
    check_gradients(lambda x: F.unfold(x, **kwargs), [x])
    columns = rng.standard_normal(F.unfold(x, **kwargs).shape)
    check_gradients(lambda c: F.fold(c, (5, 6), **kwargs), [columns])


def test_fold_of_unfold_counts_the_blocks_covering_each_pixel():
    ones = np.ones((1, 1, 4, 4), np.float32)
    counts = F.fold(F.unfold(ones, 2), (4, 4), 2).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])


X = np.zeros((1, 2, 5, 5), np.float32)
COLUMNS = np.zeros((1, 8, 16), np.float32)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.unfold(X[0, 0], 2), ValueError, "3-D .* or 4-D"),
        (lambda: F.unfold(X[None], 2), ValueError, "got 5-D"),
        (lambda: F.unfold(X, 0), ValueError, "kernel_size must be positive"),
        (lambda: F.unfold(X, (2, 2, 2)), TypeError, "kernel_size must be an int"),
        (lambda: F.unfold(X, 2, dilation=0), ValueError, "dilation must be positive"),
        (lambda: F.unfold(X, 2, padding=-1), ValueError, "padding must be non-negative"),
        (lambda: F.unfold(X, 2, stride=0), ValueError, "stride must be positive"),
        (lambda: F.unfold(X, 6), ValueError, "input too small"),
        (lambda: F.unfold(X.astype(np.int64), 2), TypeError, "floating"),
        (lambda: F.fold(COLUMNS[0, 0], (5, 5), 2), ValueError, "2-D .* or 3-D"),
        (lambda: F.fold(COLUMNS, (5, 5), 3), ValueError, "divisible by the product"),
        (lambda: F.fold(COLUMNS, (6, 5), 2), ValueError, "number of sliding blocks 20"),
        (lambda: F.fold(COLUMNS, 0, 2), ValueError, "output_size must be positive"),
        (lambda: F.fold(COLUMNS, (5, 5), 2, stride=0), ValueError, "stride must be positive"),
        (lambda: F.fold(COLUMNS, (5, 5), 2, padding=-1), ValueError, "padding must be non-neg"),
        (lambda: F.fold(COLUMNS, (5, 5), 2, dilation=0), ValueError, "dilation must be pos"),
        (lambda: F.fold(COLUMNS, (1, 1), 2), ValueError, "input too small"),
    ],
)
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_unfold_and_fold_empty_batch():
    x, columns = np.zeros((0, 2, 5, 5), np.float32), np.zeros((0, 8, 16), np.float32)
    check_against_torch(lambda x: F.unfold(x, 2), lambda x: torch_F.unfold(x, 2), [x])
    check_against_torch(
        lambda c: F.fold(c, (5, 5), 2), lambda c: torch_F.fold(c, (5, 5), 2), [columns]
    )
