"""Batch, group and layer norm: forward and every gradient against torch, running statistics,
evaluation mode, float64 finite differences and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F
from cnnkit import nn


@pytest.fixture
def rng() -> np.random.Generator:
    # Not seed 0: check_against_torch draws its upstream gradient with seed 0, and an input
    # drawn from the same stream would make that gradient an affine function of the input,
    # whose normalised gradient is exactly zero.
    return np.random.default_rng(2024)


# --- batch norm ----------------------------------------------------------------------------
BATCH_SHAPES = [(4, 3), (2, 3, 5), (2, 3, 4, 5), (2, 2, 3, 2, 3)]


def normal(rng: np.random.Generator, shape: tuple[int, ...], loc: float = 0.0) -> np.ndarray:
    return (rng.standard_normal(shape) * 2 + loc).astype(np.float32)


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(
    shape: tuple[int, ...], affine: bool, rng: np.random.Generator
) -> None:
    channels = shape[1]
    inputs = [normal(rng, shape, loc=3.0)]
    if affine:
        inputs += [normal(rng, (channels,)), normal(rng, (channels,))]

    def ours(x, *affine_params):  # type: ignore[no-untyped-def]
        return F.batch_norm(x, None, None, *affine_params, training=True)

    def theirs(x, *affine_params):  # type: ignore[no-untyped-def]
        return torch.nn.functional.batch_norm(x, None, None, *affine_params, training=True)

    check_against_torch(ours, theirs, inputs)


@pytest.mark.parametrize("grad", [True, [True, False, False], [False, True, False]])
@pytest.mark.parametrize("shape", BATCH_SHAPES[1:3])
def test_batch_norm_eval_matches_torch(
    shape: tuple[int, ...], grad: bool | list[bool], rng: np.random.Generator
) -> None:
    channels = shape[1]
    mean, var = normal(rng, (channels,)), rng.uniform(0.5, 2, channels).astype(np.float32)
    inputs = [normal(rng, shape), normal(rng, (channels,)), normal(rng, (channels,))]

    def ours(x, w, b):  # type: ignore[no-untyped-def]
        stats = cnnkit.tensor(mean.copy()), cnnkit.tensor(var.copy())
        return F.batch_norm(x, *stats, w, b, training=False, eps=1e-3)

    def theirs(x, w, b):  # type: ignore[no-untyped-def]
        stats = torch.tensor(mean), torch.tensor(var)
        return torch.nn.functional.batch_norm(x, *stats, w, b, training=False, eps=1e-3)

    check_against_torch(ours, theirs, inputs, grad=grad)


@given(
    batch=st.integers(1, 4),
    channels=st.integers(1, 4),
    length=st.integers(1, 5),
    momentum=st.sampled_from([0.1, 0.5, 1.0, 0.0]),
    eps=st.sampled_from([1e-5, 1e-2]),
)
def test_batch_norm_functional_sweep(
    batch: int, channels: int, length: int, momentum: float, eps: float
) -> None:
    # One value per channel is an error (tested below); with two, x̂ = ±1 and the input
    # gradient is pure rounding noise in both libraries.
    assume(batch * length >= 3)
    rng = np.random.default_rng(batch * 100 + channels * 10 + length)
    shape = (batch, channels, length)
    running = [normal(rng, (channels,)), rng.uniform(0.5, 2, channels).astype(np.float32)]
    ours_stats = [cnnkit.tensor(a.copy()) for a in running]
    torch_stats = [torch.tensor(a.copy()) for a in running]

    def ours(x, w, b):  # type: ignore[no-untyped-def]
        return F.batch_norm(x, *ours_stats, w, b, True, momentum, eps)

    def theirs(x, w, b):  # type: ignore[no-untyped-def]
        return torch.nn.functional.batch_norm(x, *torch_stats, w, b, True, momentum, eps)

    inputs = [normal(rng, shape), normal(rng, (channels,)), normal(rng, (channels,))]
    check_against_torch(ours, theirs, inputs)
    for our_stat, torch_stat in zip(ours_stats, torch_stats, strict=True):
        np.testing.assert_allclose(our_stat.numpy(), torch_stat.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, 0.7, None])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm2d_running_stats_follow_torch_over_steps(
    momentum: float | None, affine: bool, rng: np.random.Generator
) -> None:
    ours = nn.BatchNorm2d(3, momentum=momentum, affine=affine)
    theirs = torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine)
    for step in range(4):
        x = normal(rng, (2, 3, 4, 4), loc=step)
        out = ours(cnnkit.tensor(x))
        expected = theirs(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5, err_msg=key)
    assert int(ours.num_batches_tracked.item()) == 4
    ours.eval()
    theirs.eval()
    x = normal(rng, (2, 3, 4, 4))
    np.testing.assert_allclose(
        ours(cnnkit.tensor(x)).numpy(),
        theirs(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    assert int(ours.num_batches_tracked.item()) == 4  # evaluation leaves the statistics alone


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_without_running_stats_uses_batch_stats(
    training: bool, rng: np.random.Generator
) -> None:
    ours = nn.BatchNorm1d(3, track_running_stats=False).train(training)
    theirs = torch.nn.BatchNorm1d(3, track_running_stats=False).train(training)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = normal(rng, (5, 3))
    np.testing.assert_allclose(
        ours(cnnkit.tensor(x)).numpy(),
        theirs(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_batch_norm_layer_grads_match_torch(rng: np.random.Generator) -> None:
    ours, theirs = nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(normal(rng, (4,))))
        theirs.bias.copy_(torch.from_numpy(normal(rng, (4,))))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = normal(rng, (6, 4, 3))
    check_against_torch(ours, theirs, [x])
    upstream = rng.standard_normal((6, 4, 3)).astype(np.float32)
    ours.zero_grad()
    theirs.zero_grad()
    ours(cnnkit.tensor(x)).backward(upstream)
    theirs(torch.from_numpy(x)).backward(torch.from_numpy(upstream))
    for name in ("weight", "bias"):
        np.testing.assert_allclose(
            getattr(ours, name).grad, getattr(theirs, name).grad.numpy(), rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_float64_finite_differences(training: bool, rng: np.random.Generator) -> None:
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)

    def fn(x, w, b):  # type: ignore[no-untyped-def]
        stats = (cnnkit.tensor(mean.copy()), cnnkit.tensor(var.copy()))
        return F.batch_norm(x, *stats, w, b, training=training)

    check_gradients(fn, [rng.standard_normal((3, 3, 4)), rng.standard_normal(3), rng.random(3)])


def test_batch_norm_float64_keeps_dtype(rng: np.random.Generator) -> None:
    layer = nn.BatchNorm2d(2).double()
    out = layer(cnnkit.tensor(rng.standard_normal((2, 2, 3, 3))))
    assert out.dtype == np.float64 and layer.running_var.dtype == np.float64


# --- group norm ----------------------------------------------------------------------------
@given(
    batch=st.integers(1, 3),
    groups=st.integers(1, 3),
    per_group=st.integers(1, 3),
    spatial=st.sampled_from([(), (5,), (3, 4), (2, 2, 3)]),
    affine=st.booleans(),
)
def test_group_norm_matches_torch(
    batch: int, groups: int, per_group: int, spatial: tuple[int, ...], affine: bool
) -> None:
    rng = np.random.default_rng(batch + 10 * groups + 100 * per_group + len(spatial))
    channels = groups * per_group
    # Groups of one or two values are normalised to 0 or ±1 exactly: their input gradient is
    # rounding noise in torch.
    assume(per_group * int(np.prod(spatial)) >= 3)
    inputs = [normal(rng, (batch, channels, *spatial), loc=1.0)]
    if affine:
        inputs += [normal(rng, (channels,)), normal(rng, (channels,))]

    def ours(x, *params):  # type: ignore[no-untyped-def]
        return F.group_norm(x, groups, *params, eps=1e-3)

    def theirs(x, *params):  # type: ignore[no-untyped-def]
        return torch.nn.functional.group_norm(x, groups, *params, eps=1e-3)

    check_against_torch(ours, theirs, inputs)


def test_group_norm_weight_only_and_layer(rng: np.random.Generator) -> None:
    x, w = normal(rng, (2, 6, 5)), normal(rng, (6,))
    check_against_torch(
        lambda a, b: F.group_norm(a, 3, b),
        lambda a, b: torch.nn.functional.group_norm(a, 3, b),
        [x, w],
    )
    ours, theirs = nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, [x])


def test_group_norm_float64_finite_differences(rng: np.random.Generator) -> None:
    check_gradients(
        lambda x, w, b: F.group_norm(x, 2, w, b),
        [rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)],
    )


# --- instance norm -------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm_matches_torch(
    shape: tuple[int, ...], affine: bool, rng: np.random.Generator
) -> None:
    channels = shape[1]
    inputs = [normal(rng, shape, loc=2.0)]
    if affine:
        inputs += [normal(rng, (channels,)), normal(rng, (channels,))]
    running = [normal(rng, (channels,)), rng.uniform(0.5, 2, channels).astype(np.float32)]
    ours_stats = [cnnkit.tensor(a.copy()) for a in running]
    torch_stats = [torch.tensor(a.copy()) for a in running]

    def ours(x, *params):  # type: ignore[no-untyped-def]
        return F.instance_norm(x, *ours_stats, *params, momentum=0.3)

    def theirs(x, *params):  # type: ignore[no-untyped-def]
        return torch.nn.functional.instance_norm(x, *torch_stats, *params, momentum=0.3)

    check_against_torch(ours, theirs, inputs)
    for our_stat, torch_stat in zip(ours_stats, torch_stats, strict=True):
        np.testing.assert_allclose(our_stat.numpy(), torch_stat.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("track_running_stats", [True, False])
def test_instance_norm2d_layer_over_steps_and_eval(
    track_running_stats: bool, rng: np.random.Generator
) -> None:
    kwargs = dict(affine=True, track_running_stats=track_running_stats)
    ours, theirs = nn.InstanceNorm2d(3, **kwargs), torch.nn.InstanceNorm2d(3, **kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(3):
        x = normal(rng, (2, 3, 4, 4), loc=step)
        expected = theirs(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(ours(cnnkit.tensor(x)).numpy(), expected, atol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5, err_msg=key)
    ours.eval()
    theirs.eval()
    check_against_torch(ours, theirs, [normal(rng, (3, 4, 5))])  # unbatched (C, H, W)


def test_instance_norm_errors_and_warning() -> None:
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(t(2, 3, 1))
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        F.instance_norm(t(2, 3))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D"):
        nn.InstanceNorm2d(3)(t(2, 3))
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm1d(4, affine=True)(t(2, 3, 5))
    with pytest.warns(UserWarning, match="to match num_features"):
        nn.InstanceNorm1d(4)(t(2, 3, 5))


# --- layer norm ----------------------------------------------------------------------------
@given(
    leading=st.sampled_from([(), (3,), (2, 3)]),
    normalized=st.sampled_from([(7,), (5,), (3, 4), (2, 2, 3)]),
    affine=st.sampled_from(["both", "weight", "none"]),
)
def test_layer_norm_matches_torch(
    leading: tuple[int, ...], normalized: tuple[int, ...], affine: str
) -> None:
    rng = np.random.default_rng(len(leading) * 10 + len(normalized))
    inputs = [normal(rng, leading + normalized, loc=-2.0)]
    if affine != "none":
        inputs.append(normal(rng, normalized))
    if affine == "both":
        inputs.append(normal(rng, normalized))

    def ours(x, *params):  # type: ignore[no-untyped-def]
        return F.layer_norm(x, normalized, *params)

    def theirs(x, *params):  # type: ignore[no-untyped-def]
        return torch.nn.functional.layer_norm(x, normalized, *params)

    check_against_torch(ours, theirs, inputs)


@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_layer_matches_torch(bias: bool, rng: np.random.Generator) -> None:
    ours, theirs = nn.LayerNorm([3, 4], bias=bias), torch.nn.LayerNorm([3, 4], bias=bias)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, [normal(rng, (2, 3, 4))])


def test_layer_norm_float64_finite_differences(rng: np.random.Generator) -> None:
    check_gradients(
        lambda x, w, b: F.layer_norm(x, (3, 2), w, b, eps=1e-3),
        [rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 2)), rng.standard_normal((3, 2))],
    )


def test_constant_input_normalises_to_bias() -> None:
    # Exactly the bias: the mean of equal values is exact here (torch's is off by ~3e-5).
    x = cnnkit.tensor(np.full((2, 4, 3), 5.0, np.float32))
    bias = np.arange(4, dtype=np.float32)
    expected = np.broadcast_to(bias[:, None], (2, 4, 3))
    np.testing.assert_array_equal(F.group_norm(x, 2, None, cnnkit.tensor(bias)).numpy(), expected)
    layer_out = F.layer_norm(x, (4, 3), None, cnnkit.tensor(expected[0].copy())).numpy()
    np.testing.assert_array_equal(layer_out, expected)


# --- local response norm -------------------------------------------------------------------
@given(
    size=st.integers(1, 6),
    channels=st.integers(1, 7),
    spatial=st.sampled_from([(4,), (3, 2), (2, 2, 2)]),
    alpha=st.sampled_from([1e-4, 0.5, 2.0]),
    beta=st.sampled_from([0.75, 0.5, 1.3]),
    k=st.sampled_from([1.0, 2.0]),
)
def test_local_response_norm_matches_torch(
    size: int, channels: int, spatial: tuple[int, ...], alpha: float, beta: float, k: float
) -> None:
    rng = np.random.default_rng(size * 10 + channels)
    x = normal(rng, (2, channels, *spatial))
    check_against_torch(
        lambda a: F.local_response_norm(a, size, alpha, beta, k),
        lambda a: torch.nn.functional.local_response_norm(a, size, alpha, beta, k),
        [x],
        seed=5,
    )


def test_local_response_norm_layer_and_finite_differences(rng: np.random.Generator) -> None:
    ours, theirs = nn.LocalResponseNorm(3, alpha=0.3), torch.nn.LocalResponseNorm(3, alpha=0.3)
    assert repr(ours) == repr(theirs)
    check_against_torch(ours, theirs, [normal(rng, (2, 5, 3, 3))])
    check_gradients(
        lambda a: F.local_response_norm(a, 4, 0.5, 0.75, 1.5), [rng.standard_normal((2, 6, 3))]
    )


# --- errors --------------------------------------------------------------------------------
def t(*shape: int) -> cnnkit.Tensor:
    return cnnkit.tensor(np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: F.batch_norm(t(1, 3), None, None, training=True), ValueError, "more than 1 value"),
        (lambda: F.batch_norm(t(4), None, None, training=True), ValueError, "at least 2"),
        (lambda: F.batch_norm(t(2, 3), None, None), ValueError, "when not training"),
        (lambda: F.batch_norm(t(2, 3), t(3), None, training=True), ValueError, "both"),
        (lambda: F.batch_norm(t(2, 3), t(4), t(4)), ValueError, r"running_mean of shape \(3,\)"),
        (lambda: F.batch_norm(t(2, 3), t(3), t(3), t(2)), ValueError, "weight of shape"),
        (
            lambda: F.batch_norm(t(2, 3), t(3), t(3), cnnkit.tensor(np.ones(3))),
            TypeError,
            "weight to have the input's dtype",
        ),
        (lambda: F.batch_norm(t(2, 3), t(3), t(3), eps=0), ValueError, "eps"),
        (lambda: F.batch_norm(t(2, 3), t(3), t(3), momentum="a"), TypeError, "momentum"),
        (
            lambda: F.batch_norm(cnnkit.tensor(np.ones((2, 3), np.int64)), t(3), t(3)),
            TypeError,
            "floating",
        ),
        (lambda: F.group_norm(t(2, 6, 3), 4), ValueError, "divisible by num_groups"),
        (lambda: F.group_norm(t(2, 6, 3), 0), ValueError, "num_groups"),
        (lambda: F.group_norm(t(6), 2), ValueError, "at least 2"),
        (lambda: F.group_norm(t(1, 2, 1), 2), ValueError, "more than 1 value"),
        (lambda: F.group_norm(t(2, 6), 2, t(5)), ValueError, "weight of shape"),
        (lambda: F.layer_norm(t(2, 3), (4,)), ValueError, r"normalized_shape=\[4\]"),
        (lambda: F.layer_norm(t(3), (2, 3)), ValueError, "expected input with shape"),
        (lambda: F.layer_norm(t(2, 3), ()), ValueError, "normalized_shape"),
        (lambda: F.layer_norm(t(2, 3), 3, t(2)), ValueError, "weight of shape"),
        (lambda: nn.BatchNorm2d(3)(t(2, 3, 4)), ValueError, r"expected 4D input \(got 3D"),
        (lambda: nn.BatchNorm1d(3)(t(2, 3, 4, 4)), ValueError, "expected 2D or 3D input"),
        (lambda: nn.BatchNorm3d(3)(t(2, 3, 4, 4)), ValueError, "expected 5D input"),
        (lambda: nn.BatchNorm2d(0), ValueError, "num_features"),
        (lambda: nn.BatchNorm2d(3, momentum=2), ValueError, "momentum"),
        (lambda: nn.GroupNorm(4, 6), ValueError, "divisible by num_groups"),
        (lambda: F.local_response_norm(t(2, 3), 2), ValueError, "3D or higher"),
        (lambda: F.local_response_norm(t(2, 3, 4), 0), ValueError, "size must be a positive"),
        (lambda: nn.LocalResponseNorm(-1), ValueError, "size must be a positive"),
        (lambda: nn.GroupNorm(0, 6), ValueError, "num_groups"),
        (lambda: nn.LayerNorm([3, 0]), ValueError, "normalized_shape"),
        (lambda: nn.LayerNorm(3, eps=-1.0), ValueError, "eps"),
        (lambda: nn.BatchNorm2d(3, dtype=np.int32), TypeError, "floating"),
        (lambda: nn.GroupNorm(2, 4, device="cuda"), ValueError, "device"),
    ],
)
def test_errors(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call()


def test_batch_norm_state_dict_keys_like_torch() -> None:
    for ours, theirs in [
        (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
        (nn.BatchNorm1d(3, affine=False), torch.nn.BatchNorm1d(3, affine=False)),
        (nn.BatchNorm3d(3, bias=False), torch.nn.BatchNorm3d(3, bias=False)),
    ]:
        state = theirs.state_dict()
        assert list(ours.state_dict()) == list(state)
        assert ours.state_dict()["num_batches_tracked"].dtype == np.int64
        assert ours.state_dict()["num_batches_tracked"].shape == tuple(
            state["num_batches_tracked"].shape
        )
        assert repr(ours) == repr(theirs)
