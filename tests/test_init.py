"""nn.init: PyTorch's formulas for gains, fans and bounds; distributions checked statistically."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import nn
from cnnkit.nn import init

SHAPES = [(7, 5), (16, 3, 3, 3), (4, 6, 2, 3, 5), (3, 9, 4)]


def empty(shape: tuple[int, ...], dtype: type = np.float32) -> cnnkit.Tensor:
    return cnnkit.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_equal_torch(shape: tuple[int, ...]) -> None:
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(empty(shape)) == expected


def test_fans_need_two_dimensions() -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(empty((5,)))


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("conv_transpose3d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_equals_torch(nonlinearity: str, param: float | None) -> None:
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
    )


def test_calculate_gain_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported nonlinearity swish"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")


def torch_std(torch_fn, shape: tuple[int, ...], **kwargs) -> float:  # type: ignore[no-untyped-def]
    """The std torch's normal initialiser uses, recovered from a large torch draw's formula."""
    big = torch.empty(shape)
    torch.manual_seed(0)
    torch_fn(big, **kwargs)
    return float(big.std())


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"a": math.sqrt(5)}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"mode": "fan_out"}),
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"nonlinearity": "relu"}),
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {}),
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {"gain": 2.5}),
    ],
)
@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (300, 200)])
def test_uniform_initialisers_have_torchs_bound(ours, theirs, kwargs, shape) -> None:  # type: ignore[no-untyped-def]
    values = ours(empty(shape), **kwargs).numpy()
    reference = torch.empty(shape)
    theirs(reference, **kwargs)
    # For U(-b, b) on this many samples the extremes lie within 0.1% of b.
    bound = float(reference.abs().max())
    assert values.max() <= bound * 1.001 and values.min() >= -bound * 1.001
    assert values.max() >= bound * 0.999 and values.min() <= -bound * 0.999
    assert abs(values.mean()) < 0.02 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out", "a": 0.3}),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, {"gain": 0.5}),
        (init.normal_, torch.nn.init.normal_, {"mean": 2.0, "std": 0.3}),
    ],
)
def test_normal_initialisers_have_torchs_std(ours, theirs, kwargs) -> None:  # type: ignore[no-untyped-def]
    shape = (128, 64, 3, 3)
    values = ours(empty(shape), **kwargs).numpy()
    expected_std = torch_std(theirs, shape, **kwargs)
    assert values.std() == pytest.approx(expected_std, rel=0.01)
    assert values.mean() == pytest.approx(kwargs.get("mean", 0.0), abs=0.01 * expected_std + 1e-3)


def test_uniform_constant_ones_zeros() -> None:
    values = init.uniform_(empty((100_000,)), -2.0, 3.0).numpy()
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(0.5, abs=0.02)
    assert np.all(init.constant_(empty((3, 2)), 0.25).numpy() == np.float32(0.25))
    assert np.all(init.ones_(empty((3,))).numpy() == 1)
    assert np.all(init.zeros_(cnnkit.tensor(np.ones(3, np.float32))).numpy() == 0)


def test_trunc_normal_stays_in_bounds() -> None:
    values = init.trunc_normal_(empty((50_000,)), mean=0.5, std=1.0, a=0.0, b=1.0).numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0
    # The normal restricted to [mean - 0.5, mean + 0.5] is nearly flat: mean stays 0.5.
    assert values.mean() == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(empty((2,)), a=1.0, b=0.0)


def test_fills_in_place_and_keeps_dtype() -> None:
    tensor = empty((8, 4), np.float64)
    array = tensor.data
    assert init.kaiming_uniform_(tensor) is tensor and tensor.data is array
    assert tensor.dtype == np.float64


def test_kaiming_mode_error_and_empty_warning() -> None:
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(empty((3, 3)), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(empty((0, 3)))


def test_explicit_generator_makes_draws_deterministic() -> None:
    generator = np.random.default_rng(5)
    first = init.normal_(empty((4, 4)), generator=generator).numpy().copy()
    second = init.normal_(empty((4, 4)), generator=np.random.default_rng(5)).numpy()
    np.testing.assert_array_equal(first, second)


def test_manual_seed_makes_layers_deterministic() -> None:
    cnnkit.manual_seed(3)
    layer_a = nn.Linear(5, 4).state_dict()
    cnnkit.manual_seed(3)
    layer_b = nn.Linear(5, 4).state_dict()
    for key in layer_a:
        np.testing.assert_array_equal(layer_a[key], layer_b[key])
    assert not np.array_equal(layer_a["weight"], nn.Linear(5, 4).weight.data)


def test_default_linear_init_follows_torch_bounds() -> None:
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert values.min() >= -bound and values.max() <= bound
        assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
