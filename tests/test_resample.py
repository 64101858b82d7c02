"""interpolate, pixel_shuffle and pixel_unshuffle against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F

MANY = settings(max_examples=settings.default.max_examples * 8)

# mode -> spatial axes it accepts
MODES = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "area": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
}
# Scale factors that divide evenly, that do not, and that round the size to itself or double
# it (where PyTorch's index rules have special cases).
FACTORS = st.one_of(
    st.sampled_from([0.5, 1.0, 2.0, 3.0, 1.5, 0.75, 1.05, 2.05, 0.99, 1 / 3]),
    st.floats(0.3, 4.0),
)


@st.composite
def resample_cases(draw: st.DrawFn) -> tuple[str, tuple[int, ...], dict]:
    mode = draw(st.sampled_from(sorted(MODES)))
    n = draw(st.sampled_from(MODES[mode]))
    largest = (12, 8, 5)[n - 1]
    spatial = tuple(draw(st.integers(1, largest)) for _ in range(n))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + spatial
    kwargs: dict = {}
    if draw(st.booleans()):
        sizes = tuple(draw(st.integers(1, 2 * largest)) for _ in range(n))
        kwargs["size"] = sizes if n > 1 or draw(st.booleans()) else sizes[0]
    else:
        factors = tuple(draw(FACTORS) for _ in range(n))
        # Keep every output size at least 1.
        factors = tuple(max(f, 1.0 / i) for f, i in zip(factors, spatial, strict=True))
        kwargs["scale_factor"] = factors if len(set(factors)) > 1 else factors[0]
        if draw(st.booleans()):
            kwargs["recompute_scale_factor"] = draw(st.booleans())
    if mode in ("linear", "bilinear", "bicubic", "trilinear") and draw(st.booleans()):
        kwargs["align_corners"] = draw(st.booleans())
    return mode, shape, kwargs


@settings(max_examples=settings.default.max_examples * 20)
@given(case=resample_cases(), seed=st.integers(0, 99))
def test_interpolate_matches_torch(case: tuple, seed: int) -> None:
    mode, shape, kwargs = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    check_against_torch(
        lambda t: F.interpolate(t, mode=mode, **kwargs),
        lambda t: TF.interpolate(t, mode=mode, **kwargs),
        [x],
    )


@settings(max_examples=settings.default.max_examples * 2)
@given(case=resample_cases(), seed=st.integers(0, 99))
def test_interpolate_float64_matches_torch(case: tuple, seed: int) -> None:
    mode, shape, kwargs = case
    x = np.random.default_rng(seed).standard_normal(shape)
    check_against_torch(
        lambda t: F.interpolate(t, mode=mode, **kwargs),
        lambda t: TF.interpolate(t, mode=mode, **kwargs),
        [x],
    )


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 64])
def test_nearest_picks_the_same_source_pixels_as_torch(mode: str, size: int) -> None:
    # An arange input shows the chosen source indices directly; compare them exactly.
    for factor in (0.3, 0.5, 0.7, 1.0, 1.05, 1.5, 2.0, 2.05, 2.5, 3.0, 1 / 3, 7 / 3):
        if int(size * factor) < 1:
            continue
        x = np.arange(size, dtype=np.float32).reshape(1, 1, size)
        ours = F.interpolate(cnnkit.tensor(x), scale_factor=factor, mode=mode).numpy()
        theirs = TF.interpolate(torch.tensor(x), scale_factor=factor, mode=mode).numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=f"scale_factor={factor}")


def test_scale_factor_and_recomputed_size_sample_differently_like_torch() -> None:
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 7)).astype(np.float32)
    given_scale = F.interpolate(cnnkit.tensor(x), scale_factor=1.7, mode="bilinear")
    recomputed = F.interpolate(
        cnnkit.tensor(x), scale_factor=1.7, mode="bilinear", recompute_scale_factor=True
    )
    assert given_scale.shape == recomputed.shape == (1, 1, 11, 11)
    assert not np.allclose(given_scale.numpy(), recomputed.numpy())
    theirs = TF.interpolate(torch.tensor(x), scale_factor=1.7, mode="bilinear").numpy()
    np.testing.assert_allclose(given_scale.numpy(), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("mode", "shape", "kwargs"),
    [
        ("nearest", (2, 2, 5, 4), {"scale_factor": 1.7}),
        ("nearest-exact", (2, 2, 5), {"size": 8}),
        ("linear", (2, 2, 5), {"scale_factor": 2.5, "align_corners": True}),
        ("bilinear", (2, 2, 5, 4), {"size": (3, 7)}),
        ("bicubic", (2, 2, 5, 4), {"size": (9, 3)}),
        ("bicubic", (1, 2, 4, 5), {"scale_factor": 2.0, "align_corners": True}),
        ("trilinear", (1, 2, 3, 4, 3), {"scale_factor": (1.5, 0.5, 2.0)}),
        ("area", (2, 2, 7, 5), {"size": (3, 2)}),
    ],
)
def test_interpolate_finite_differences(mode: str, shape: tuple, kwargs: dict) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    check_gradients(lambda t: F.interpolate(t, mode=mode, **kwargs), [x])


# --- pixel shuffle ----------------------------------------------------------------------------
@MANY
@given(
    batch=st.sampled_from([(), (1,), (2,), (2, 1)]),
    channels=st.integers(1, 3),
    factor=st.integers(1, 3),
    height=st.integers(1, 4),
    width=st.integers(1, 4),
    seed=st.integers(0, 99),
)
def test_pixel_shuffle_and_unshuffle_match_torch(
    batch: tuple, channels: int, factor: int, height: int, width: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    packed = rng.standard_normal(batch + (channels * factor**2, height, width)).astype(np.float32)
    check_against_torch(
        lambda t: F.pixel_shuffle(t, factor), lambda t: TF.pixel_shuffle(t, factor), [packed]
    )
    spread = rng.standard_normal(batch + (channels, height * factor, width * factor))
    check_against_torch(
        lambda t: F.pixel_unshuffle(t, factor),
        lambda t: TF.pixel_unshuffle(t, factor),
        [spread.astype(np.float32)],
    )


def test_pixel_unshuffle_inverts_pixel_shuffle() -> None:
    x = np.random.default_rng(0).standard_normal((2, 12, 3, 5))
    restored = F.pixel_unshuffle(F.pixel_shuffle(cnnkit.tensor(x), 2), 2)
    np.testing.assert_array_equal(restored.numpy(), x)
    check_gradients(lambda t: F.pixel_shuffle(t, 2), [x])
    check_gradients(lambda t: F.pixel_unshuffle(t, 3), [x.reshape(2, 4, 9, 5)[..., :3]])


# --- argument errors --------------------------------------------------------------------------
def _x(*shape: int) -> cnnkit.Tensor:
    return cnnkit.tensor(np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.interpolate(_x(2, 3), size=4), ValueError, "3-D, 4-D or 5-D"),
        (lambda: F.interpolate(_x(1, 1, 2, 2, 2, 2), size=4), ValueError, "3-D, 4-D or 5-D"),
        (lambda: F.interpolate(_x(1, 2, 3), size=4, mode="bilinear"), ValueError, "bilinear"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=4, mode="linear"), ValueError, "linear"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=4, mode="trilinear"), ValueError, "4-D"),
        (lambda: F.interpolate(_x(1, 2, 3), size=4, mode="bicubic"), ValueError, "bicubic"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=4, mode="cubic"), ValueError, "mode"),
        (
            lambda: F.interpolate(_x(1, 2, 3, 3), size=4, align_corners=True),
            ValueError,
            "align_corners",
        ),
        (
            lambda: F.interpolate(_x(1, 2, 3, 3), size=4, mode="area", align_corners=False),
            ValueError,
            "align_corners",
        ),
        (lambda: F.interpolate(_x(1, 2, 3, 3)), ValueError, "size or scale_factor"),
        (
            lambda: F.interpolate(_x(1, 2, 3, 3), size=4, scale_factor=2),
            ValueError,
            "only one of size or scale_factor",
        ),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=0), ValueError, "size"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=(4, -1)), ValueError, "size"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=(4, 4, 4)), ValueError, "size"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), size=2.5), TypeError, "size"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), scale_factor=0.2), ValueError, "scale_factor"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), scale_factor=-2), ValueError, "scale_factor"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), scale_factor=(2, 2, 2)), ValueError, "scale_factor"),
        (lambda: F.interpolate(_x(1, 2, 3, 3), scale_factor="2"), TypeError, "scale_factor"),
        (
            lambda: F.interpolate(_x(1, 2, 3, 3), size=4, recompute_scale_factor=True),
            ValueError,
            "recompute_scale_factor",
        ),
        (lambda: F.interpolate(_x(1, 0, 3, 3), size=4), ValueError, "non-empty"),
        (
            lambda: F.interpolate(_x(1, 2, 3, 3), size=4, mode="bilinear", antialias=True),
            ValueError,
            "antialias",
        ),
        (lambda: F.interpolate(cnnkit.tensor(np.ones((1, 1, 3), int)), size=4), TypeError, "dtype"),
        (lambda: F.pixel_shuffle(_x(1, 6, 3, 3), 2), ValueError, "divisible"),
        (lambda: F.pixel_shuffle(_x(1, 8, 3, 3), 0), ValueError, "upscale_factor"),
        (lambda: F.pixel_shuffle(_x(1, 8, 3, 3), 2.0), TypeError, "upscale_factor"),
        (lambda: F.pixel_shuffle(_x(8, 3), 2), ValueError, "at least 3"),
        (lambda: F.pixel_unshuffle(_x(1, 2, 3, 4), 2), ValueError, "divisible"),
        (lambda: F.pixel_unshuffle(_x(1, 2, 4, 4), -1), ValueError, "downscale_factor"),
    ],
)
def test_bad_sampling_arguments_raise(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_empty_batch_like_torch(mode: str) -> None:
    x = np.zeros((0, 3, 4, 4), dtype=np.float32)
    check_against_torch(
        lambda t: F.interpolate(t, size=(6, 3), mode=mode),
        lambda t: TF.interpolate(t, size=(6, 3), mode=mode),
        [x],
    )
