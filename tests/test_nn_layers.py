"""Every layer against its torch twin: same weights (copied from torch), same output, same
gradients for the input and every parameter; repr and state_dict keys; constructor errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import (
    FORWARD_RTOL,
    GRAD_RTOL,
    assert_close,
    check_against_torch,
    check_gradients,
)

import cnnkit
import cnnkit.nn.functional as F
from cnnkit import nn


def copy_from_torch(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict(
        OrderedDict((k, v.detach().numpy()) for k, v in theirs.state_dict().items())
    )


def check_layer(
    ours: nn.Module,
    theirs: torch.nn.Module,
    shape: tuple[int, ...],
    *,
    seed: int = 7,
    forward_kwargs: dict | None = None,
) -> None:
    """Copy torch's weights into ours, then compare output, input grad and parameter grads."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    copy_from_torch(ours, theirs)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    our_x = cnnkit.tensor(x, requires_grad=True)
    torch_x = torch.tensor(x, requires_grad=True)
    kwargs = forward_kwargs or {}
    # A clone is not a leaf, so torch's inplace activations may write into it.
    our_out, torch_out = ours(our_x, **kwargs), theirs(torch_x.clone(), **kwargs)
    assert_close(our_out.numpy(), torch_out.detach().numpy(), FORWARD_RTOL, "forward")
    if not torch_out.requires_grad:
        return
    upstream = rng.standard_normal(torch_out.shape).astype(np.float32)
    our_out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    assert_close(our_x.grad, torch_x.grad.numpy(), GRAD_RTOL, "input gradient")
    torch_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_params[name].grad.numpy(), GRAD_RTOL, f"{name} gradient")


# --- linear, identity, flatten ---------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
def test_linear(bias: bool, shape: tuple[int, ...]) -> None:
    check_layer(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias), shape)


def test_linear_float64() -> None:
    ours = nn.Linear(3, 2, dtype=np.float64)
    out = ours(cnnkit.tensor(np.ones((2, 3))))
    assert ours.weight.dtype == np.float64 and out.dtype == np.float64


def test_identity_flatten_unflatten() -> None:
    check_layer(nn.Identity(54, unused="x"), torch.nn.Identity(54, unused="x"), (2, 3))
    check_layer(nn.Flatten(), torch.nn.Flatten(), (2, 3, 4, 5))
    check_layer(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), (2, 3, 4, 5))
    check_layer(nn.Flatten(-2), torch.nn.Flatten(-2), (2, 3, 4))
    check_layer(nn.Unflatten(1, (3, 4)), torch.nn.Unflatten(1, (3, 4)), (2, 12, 5))
    check_layer(nn.Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)), (2, 12))


@given(
    leading=st.sampled_from([(), (1,), (4,), (2, 3)]),
    in_features=st.integers(1, 6),
    out_features=st.integers(1, 5),
    bias=st.booleans(),
)
def test_functional_linear_matches_torch(
    leading: tuple[int, ...], in_features: int, out_features: int, bias: bool
) -> None:
    rng = np.random.default_rng(in_features * 10 + out_features)
    inputs = [
        rng.standard_normal(leading + (in_features,)).astype(np.float32),
        rng.standard_normal((out_features, in_features)).astype(np.float32),
    ]
    if bias:
        inputs.append(rng.standard_normal(out_features).astype(np.float32))
    check_against_torch(F.linear, torch.nn.functional.linear, inputs, seed=3)


def test_functional_linear_float64_finite_differences(rng: np.random.Generator) -> None:
    check_gradients(
        F.linear,
        [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)],
    )


def t(*shape: int, dtype: type = np.float32) -> cnnkit.Tensor:
    return cnnkit.tensor(np.zeros(shape, dtype))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.linear(t(2, 3), t(4, 2)), ValueError, "in_features=2"),
        (lambda: F.linear(t(2, 3), t(4, 3, 1)), ValueError, "weight to be 2-D"),
        (lambda: F.linear(t(2, 3), t(4, 3), t(3)), ValueError, r"bias of shape \(4,\)"),
        (lambda: F.linear(t(2, 3), t(4, 3, dtype=np.float64)), TypeError, "dtype"),
        (lambda: F.linear(t(2, 3, dtype=np.int64), t(4, 3)), TypeError, "floating"),
        (lambda: F.linear("x", t(4, 3)), TypeError, "input must be a Tensor"),
        (lambda: F.dropout(t(2), p=-0.1), ValueError, "between 0 and 1"),
        (lambda: F.dropout(t(2, dtype=np.int64)), TypeError, "floating"),
        (lambda: F.dropout3d(t(2, 3)), ValueError, "4-D or 5-D"),
    ],
)
def test_functional_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


# --- activations ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.ReLU(),
        lambda lib: lib.ReLU(inplace=True),
        lambda lib: lib.LeakyReLU(),
        lambda lib: lib.LeakyReLU(0.2, inplace=True),
        lambda lib: lib.ELU(),
        lambda lib: lib.ELU(alpha=0.5),
        lambda lib: lib.GELU(),
        lambda lib: lib.GELU(approximate="tanh"),
        lambda lib: lib.SiLU(),
        lambda lib: lib.Sigmoid(),
        lambda lib: lib.Tanh(),
        lambda lib: lib.Softplus(),
        lambda lib: lib.Softplus(beta=2.0, threshold=1.0),
        lambda lib: lib.Softmax(dim=1),
        lambda lib: lib.Softmax(dim=-1),
        lambda lib: lib.LogSoftmax(dim=1),
    ],
)
def test_activations(make) -> None:  # type: ignore[no-untyped-def]
    check_layer(make(nn), make(torch.nn), (3, 4, 5))


def test_softmax_without_dim_uses_torchs_legacy_choice() -> None:
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        with pytest.warns(UserWarning, match="Implicit dimension"):
            check_layer(nn.Softmax(), torch.nn.Softmax(), shape)


# --- dropout -------------------------------------------------------------------------------
def test_dropout_training_statistics_and_eval_identity() -> None:
    cnnkit.manual_seed(0)
    x = cnnkit.tensor(np.ones((200, 500), np.float32), requires_grad=True)
    layer = nn.Dropout(0.3)
    out = layer(x)
    kept = out.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out.numpy()[kept], 1 / 0.7, rtol=1e-6)
    out.backward(np.ones_like(out.numpy()))
    np.testing.assert_array_equal(x.grad, out.numpy())  # gradient passes through the mask
    layer.eval()
    assert layer(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)


def test_dropout_is_reproducible_under_manual_seed() -> None:
    x = cnnkit.tensor(np.ones((4, 6, 3, 3), np.float32))
    cnnkit.manual_seed(11)
    first = nn.Dropout2d()(x).numpy()
    cnnkit.manual_seed(11)
    np.testing.assert_array_equal(nn.Dropout2d()(x).numpy(), first)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Dropout1d(0.4), (50, 40, 6)),
        (nn.Dropout1d(0.4), (400, 6)),
        (nn.Dropout2d(0.4), (50, 40, 3, 3)),
        (nn.Dropout2d(0.4), (50, 40, 6)),
        (nn.Dropout3d(0.4), (50, 40, 2, 2, 2)),
        (nn.Dropout3d(0.4), (400, 2, 2, 2)),
    ],
)
def test_channel_dropout_zeroes_whole_channels(layer: nn.Module, shape: tuple[int, ...]) -> None:
    out = layer(cnnkit.tensor(np.ones(shape, np.float32))).numpy()
    batched_ndim = {"Dropout1d": 3, "Dropout2d": 4, "Dropout3d": 5}[type(layer).__name__]
    # (N, C) lead a batched input (and dropout2d's 3-D input, as in torch); (C,) an unbatched one
    leading = 2 if len(shape) == batched_ndim or type(layer) is nn.Dropout2d else 1
    per_channel = out.reshape(shape[:leading] + (-1,))
    assert np.all(per_channel == per_channel[..., :1])  # a channel is kept or dropped whole
    assert abs((per_channel[..., 0] != 0).mean() - 0.6) < 0.05


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nn.Dropout(1.5), ValueError, "between 0 and 1"),
        (lambda: nn.Dropout("a"), TypeError, "p must be a number"),
        (lambda: nn.Dropout2d()(cnnkit.tensor(np.ones((2, 3), np.float32))), ValueError, "3-D"),
        (
            lambda: nn.Dropout1d()(cnnkit.tensor(np.ones((2, 3, 4, 5), np.float32))),
            ValueError,
            "2-D or 3-D",
        ),
    ],
)
def test_dropout_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


# --- convolution ---------------------------------------------------------------------------
CONV_CASES = [
    (1, dict(in_channels=2, out_channels=4, kernel_size=3), (2, 2, 9)),
    (
        1,
        dict(in_channels=4, out_channels=2, kernel_size=2, stride=2, padding=1, groups=2),
        (2, 4, 7),
    ),
    (2, dict(in_channels=3, out_channels=4, kernel_size=3, padding=1), (2, 3, 6, 5)),
    (
        2,
        dict(
            in_channels=4,
            out_channels=6,
            kernel_size=(3, 2),
            stride=(2, 1),
            dilation=2,
            groups=2,
            bias=False,
        ),
        (2, 4, 9, 8),
    ),
    (2, dict(in_channels=3, out_channels=2, kernel_size=4, padding="same"), (1, 3, 6, 7)),
    (2, dict(in_channels=3, out_channels=2, kernel_size=3, padding="valid"), (1, 3, 6, 7)),
    (
        2,
        dict(in_channels=3, out_channels=2, kernel_size=3, padding=2, padding_mode="reflect"),
        (2, 3, 5, 6),
    ),
    (
        2,
        dict(
            in_channels=3, out_channels=2, kernel_size=3, padding=(1, 2), padding_mode="replicate"
        ),
        (2, 3, 5, 6),
    ),
    (
        2,
        dict(
            in_channels=3,
            out_channels=2,
            kernel_size=(3, 4),
            padding="same",
            dilation=2,
            padding_mode="circular",
        ),
        (2, 3, 7, 8),
    ),
    (
        2,
        dict(in_channels=3, out_channels=2, kernel_size=3, padding=1, padding_mode="reflect"),
        (3, 5, 6),
    ),
    (
        3,
        dict(in_channels=2, out_channels=3, kernel_size=2, stride=(1, 2, 1), padding=1),
        (1, 2, 4, 5, 3),
    ),
    (
        3,
        dict(in_channels=2, out_channels=2, kernel_size=3, padding="same", padding_mode="circular"),
        (1, 2, 4, 4, 3),
    ),
]


@pytest.mark.parametrize(("dims", "kwargs", "shape"), CONV_CASES)
def test_conv(dims: int, kwargs: dict, shape: tuple[int, ...]) -> None:
    name = f"Conv{dims}d"
    check_layer(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), shape)


TRANSPOSED_CASES = [
    (1, dict(in_channels=2, out_channels=3, kernel_size=3, stride=2), (2, 2, 5)),
    (
        2,
        dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1),
        (2, 4, 4, 5),
    ),
    (
        2,
        dict(
            in_channels=4, out_channels=6, kernel_size=(2, 3), groups=2, bias=False, dilation=(2, 1)
        ),
        (1, 4, 3, 4),
    ),
    (2, dict(in_channels=3, out_channels=2, kernel_size=3, stride=2), (3, 4, 4)),
    (
        3,
        dict(in_channels=2, out_channels=2, kernel_size=2, stride=2, padding=(0, 1, 0)),
        (1, 2, 3, 3, 2),
    ),
]


@pytest.mark.parametrize(("dims", "kwargs", "shape"), TRANSPOSED_CASES)
def test_conv_transpose(dims: int, kwargs: dict, shape: tuple[int, ...]) -> None:
    name = f"ConvTranspose{dims}d"
    check_layer(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), shape)


@pytest.mark.parametrize("output_size", [(9, 9), (10, 10), (9, 10), [2, 2, 10, 9]])
def test_conv_transpose_output_size(output_size: tuple[int, ...]) -> None:
    kwargs = dict(in_channels=3, out_channels=2, kernel_size=3, stride=2, padding=1)
    check_layer(
        nn.ConvTranspose2d(**kwargs),
        torch.nn.ConvTranspose2d(**kwargs),
        (2, 3, 5, 5),
        forward_kwargs={"output_size": output_size},
    )


def test_conv_transpose_output_size_errors() -> None:
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = cnnkit.tensor(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"valid sizes range from \[9, 9\] to \[10, 10\]"):
        layer(x, output_size=(11, 9))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        layer(x, output_size=(9,))


def test_conv_default_init_follows_torch_bounds() -> None:
    layer = nn.Conv2d(8, 400, 3)
    bound = 1 / np.sqrt(8 * 9)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert values.min() >= -bound and values.max() <= bound
        assert values.max() > 0.8 * bound and values.min() < -0.8 * bound
    transposed = nn.ConvTranspose2d(8, 16, 3)
    assert transposed.weight.shape == (8, 16, 3, 3)
    fan_in = 16 * 9  # torch's fan_in of a transposed weight is its dim 1 times the kernel
    assert np.abs(transposed.bias.numpy()).max() <= 1 / np.sqrt(fan_in)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible"),
        (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible"),
        (lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, "groups must be a positive"),
        (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels must be a positive"),
        (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "strided"),
        (lambda: nn.Conv2d(3, 4, 3, padding="full"), ValueError, "Invalid padding string"),
        (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), ValueError, "padding_mode must be"),
        (lambda: nn.Conv2d(3, 4, 0), ValueError, "kernel_size must be positive"),
        (lambda: nn.Conv2d(3, 4, (3, 3, 3)), TypeError, "kernel_size must be an int or a tuple"),
        (lambda: nn.Conv1d(3, 4, 3, padding=-1), ValueError, "padding must be non-negative"),
        (lambda: nn.Conv3d(3, 4, 3, dilation=0), ValueError, "dilation must be positive"),
        (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), ValueError, '"zeros"'),
        (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), ValueError, "padding string"),
        (lambda: nn.ConvTranspose2d(3, 4, 3, output_padding=-1), ValueError, "output_padding"),
        (lambda: nn.Conv2d(3, 4, 3, device="cuda"), ValueError, "device"),
        (lambda: nn.Linear(3, -1), ValueError, "out_features"),
    ],
)
def test_constructor_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_conv_forward_errors_come_from_functional() -> None:
    with pytest.raises(ValueError, match="channels"):
        nn.Conv2d(3, 4, 3)(cnnkit.tensor(np.zeros((1, 2, 5, 5), np.float32)))


# --- pooling -------------------------------------------------------------------------------
POOL_CASES = [
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 9)),
    ("MaxPool2d", dict(kernel_size=2), (2, 3, 6, 7)),
    (
        "MaxPool2d",
        dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
        (2, 3, 7, 8),
    ),
    ("MaxPool2d", dict(kernel_size=3, stride=2), (3, 7, 7)),
    ("MaxPool3d", dict(kernel_size=2, stride=1, padding=1), (1, 2, 3, 4, 3)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), (2, 3, 8)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7)),
    ("AvgPool2d", dict(kernel_size=2, divisor_override=3), (2, 3, 6, 6)),
    (
        "AvgPool3d",
        dict(kernel_size=(2, 3, 2), stride=1, count_include_pad=False, padding=1),
        (1, 2, 3, 5, 4),
    ),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 10)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, None)), (2, 3, 7, 5)),
    ("AdaptiveAvgPool2d", dict(output_size=1), (2, 3, 7, 5)),
    ("AdaptiveAvgPool3d", dict(output_size=(2, 3, 2)), (1, 2, 5, 7, 3)),
    ("AdaptiveMaxPool1d", dict(output_size=3), (2, 3, 10)),
    ("AdaptiveMaxPool2d", dict(output_size=(2, 3)), (2, 3, 7, 5)),
    ("AdaptiveMaxPool3d", dict(output_size=2), (1, 2, 5, 4, 3)),
]


@pytest.mark.parametrize(("name", "kwargs", "shape"), POOL_CASES)
def test_pooling(name: str, kwargs: dict, shape: tuple[int, ...]) -> None:
    check_layer(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), shape)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_indices_and_unpool(dims: int) -> None:
    shape = (2, 3) + (6, 5, 4)[:dims]
    pool = getattr(nn, f"MaxPool{dims}d")(2, return_indices=True)
    torch_pool = getattr(torch.nn, f"MaxPool{dims}d")(2, return_indices=True)
    assert repr(pool) == repr(torch_pool)
    x = np.random.default_rng(dims).standard_normal(shape).astype(np.float32)
    values, indices = pool(cnnkit.tensor(x))
    torch_values, torch_indices = torch_pool(torch.from_numpy(x))
    np.testing.assert_array_equal(indices.numpy(), torch_indices.numpy())
    unpool = getattr(nn, f"MaxUnpool{dims}d")(2)
    torch_unpool = getattr(torch.nn, f"MaxUnpool{dims}d")(2)
    assert repr(unpool) == repr(torch_unpool)
    output_size = shape[2:]
    np.testing.assert_array_equal(
        unpool(values, indices, output_size=output_size).numpy(),
        torch_unpool(torch_values, torch_indices, output_size=output_size).numpy(),
    )


def test_adaptive_max_pool_return_indices() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5)).astype(np.float32)
    _, indices = nn.AdaptiveMaxPool2d(3, return_indices=True)(cnnkit.tensor(x))
    _, torch_indices = torch.nn.AdaptiveMaxPool2d(3, return_indices=True)(torch.from_numpy(x))
    np.testing.assert_array_equal(indices.numpy(), torch_indices.numpy())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nn.MaxPool2d(0), ValueError, "kernel_size must be positive"),
        (lambda: nn.MaxPool2d(2, stride=0), ValueError, "stride must be positive"),
        (lambda: nn.MaxPool2d(3, padding=2), ValueError, "at most half"),
        (lambda: nn.MaxPool2d(3, padding=-1), ValueError, "non-negative"),
        (lambda: nn.MaxPool1d(3, dilation=0), ValueError, "dilation must be positive"),
        (lambda: nn.AvgPool2d((2, 2, 2)), TypeError, "kernel_size"),
        (lambda: nn.AvgPool2d(2, divisor_override=0), ValueError, "divisor_override"),
        (lambda: nn.AvgPool1d(2, padding=2), ValueError, "at most half"),
        (lambda: nn.AdaptiveAvgPool2d((2, 2, 2)), ValueError, "output_size"),
        (lambda: nn.AdaptiveAvgPool1d(None), ValueError, "output_size"),
        (lambda: nn.AdaptiveMaxPool2d(-1), ValueError, "output_size"),
        (lambda: nn.MaxUnpool2d(0), ValueError, "kernel_size"),
    ],
)
def test_pooling_constructor_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


# --- padding -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "args", "shape"),
    [
        ("ZeroPad1d", ((1, 2),), (2, 3, 5)),
        ("ZeroPad2d", (2,), (2, 3, 4, 5)),
        ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 3, 4, 2)),
        ("ConstantPad1d", (2, 3.5), (3, 5)),
        ("ConstantPad2d", ((1, 2, 0, 1), -1.0), (2, 3, 4, 5)),
        ("ConstantPad3d", (1, 0.5), (1, 2, 3, 4, 2)),
        ("ReflectionPad1d", (2,), (2, 3, 5)),
        ("ReflectionPad2d", ((1, 2, 3, 0),), (2, 3, 4, 5)),
        ("ReflectionPad3d", (1,), (1, 2, 3, 4, 2)),
        ("ReplicationPad1d", ((0, 3),), (2, 3, 5)),
        ("ReplicationPad2d", (2,), (3, 4, 5)),
        ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),), (1, 2, 3, 4, 2)),
        ("CircularPad1d", (2,), (2, 3, 5)),
        ("CircularPad2d", ((1, 2, 2, 1),), (2, 3, 4, 5)),
        ("CircularPad3d", (1,), (1, 2, 3, 4, 2)),
    ],
)
def test_padding_layers(name: str, args: tuple, shape: tuple[int, ...]) -> None:
    check_layer(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), shape)


def test_padding_layer_errors() -> None:
    with pytest.raises(TypeError, match="padding must be an int or a tuple of 4 ints"):
        nn.ReflectionPad2d((1, 2, 3))
    with pytest.raises(ValueError, match="reflect padding must be smaller"):
        nn.ReflectionPad1d(5)(cnnkit.tensor(np.zeros((1, 2, 5), np.float32)))
