"""Fast paths against PyTorch: each test forces the fast path's corner cases (many small cache
blocks, several thread parts, padding per block, assigned vs accumulated gradient offsets)."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import check_against_torch

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
