"""Resampling layers (Upsample, PixelShuffle, PixelUnshuffle) against their torch twins."""

from __future__ import annotations

import pytest
import torch
from tests.test_nn_layers import check_layer

from cnnkit import nn

# --- resampling ----------------------------------------------------------------------------
UPSAMPLE_CASES = [
    (dict(scale_factor=2), (2, 3, 4, 5)),
    (dict(size=(7, 3)), (2, 3, 4, 5)),
    (dict(scale_factor=1.5, mode="nearest-exact"), (2, 3, 4, 5)),
    (dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    (dict(size=(7, 9), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    (dict(scale_factor=3, mode="linear"), (2, 3, 4)),
    (dict(scale_factor=(2, 1, 2), mode="trilinear"), (1, 2, 3, 4, 2)),
    (dict(size=5, mode="nearest"), (2, 3, 4)),
]


@pytest.mark.parametrize(("kwargs", "shape"), UPSAMPLE_CASES)
def test_upsample(kwargs: dict, shape: tuple[int, ...]) -> None:
    check_layer(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), shape)


def test_upsampling_aliases_and_pixel_shuffle() -> None:
    check_layer(
        nn.UpsamplingNearest2d(scale_factor=2),
        torch.nn.UpsamplingNearest2d(scale_factor=2),
        (1, 2, 3, 3),
    )
    check_layer(
        nn.UpsamplingBilinear2d(size=(5, 4)),
        torch.nn.UpsamplingBilinear2d(size=(5, 4)),
        (1, 2, 3, 3),
    )
    check_layer(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), (2, 8, 3, 4))
    check_layer(nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2), (2, 2, 6, 4))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nn.Upsample(), ValueError, "exactly one of size or scale_factor"),
        (lambda: nn.Upsample(size=3, scale_factor=2), ValueError, "exactly one"),
        (lambda: nn.Upsample(scale_factor=2, mode="cubic"), ValueError, "mode must be one of"),
        (lambda: nn.Upsample(scale_factor=2, align_corners=True), ValueError, "align_corners"),
        (lambda: nn.PixelShuffle(0), ValueError, "upscale_factor"),
        (lambda: nn.PixelUnshuffle(1.5), ValueError, "downscale_factor"),
    ],
)
def test_resampling_constructor_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()
