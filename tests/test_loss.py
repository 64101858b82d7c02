"""Loss functions against torch: forward values and input gradients for every reduction."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F

REDUCTIONS = ("none", "mean", "sum")


def _constant(array: np.ndarray | None) -> tuple[cnnkit.Tensor | None, torch.Tensor | None]:
    if array is None:
        return None, None
    return cnnkit.Tensor(array), torch.from_numpy(array)


@st.composite
def class_problems(draw: st.DrawFn) -> dict:
    """Logits (N, C, d1..dk), index targets with some ignored, optional class weights."""
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    batch = draw(st.integers(1, 4))
    classes = draw(st.integers(1, 5))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    # A real class as ignore_index needs a second class to keep a target.
    ignore_index = draw(st.sampled_from([-100, 255] + ([0] if classes > 1 else [])))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    logits = (rng.standard_normal((batch, classes, *spatial)) * 3).astype(dtype)
    target = rng.integers(0, classes, (batch, *spatial))
    target[rng.random(target.shape) < draw(st.sampled_from([0.0, 0.3]))] = ignore_index
    # At least one kept target: the all-ignored nan mean has its own test.
    target.flat[0] = classes - 1
    weight = rng.random(classes).astype(dtype) + 0.1 if draw(st.booleans()) else None
    return {
        "logits": logits,
        "target": target,
        "weight": weight,
        "ignore_index": ignore_index,
        "reduction": draw(st.sampled_from(REDUCTIONS)),
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.75, 1.0])),
    }


# --- cross_entropy / nll_loss ----------------------------------------------------------------
@given(class_problems())
def test_cross_entropy_index_targets_match_torch(problem: dict) -> None:
    target = problem["target"]
    ours_w, torch_w = _constant(problem["weight"])
    options = {
        "ignore_index": problem["ignore_index"],
        "reduction": problem["reduction"],
        "label_smoothing": problem["label_smoothing"],
    }
    check_against_torch(
        lambda x: F.cross_entropy(x, target, ours_w, **options),
        lambda x: TF.cross_entropy(x, torch.from_numpy(target), torch_w, **options),
        [problem["logits"]],
    )


@given(class_problems())
def test_nll_loss_matches_torch(problem: dict) -> None:
    target = problem["target"]
    log_probs = np.log(np.exp(problem["logits"]) / np.exp(problem["logits"]).sum(1, keepdims=True))
    ours_w, torch_w = _constant(problem["weight"])
    options = {"ignore_index": problem["ignore_index"], "reduction": problem["reduction"]}
    check_against_torch(
        lambda x: F.nll_loss(x, target, ours_w, **options),
        lambda x: TF.nll_loss(x, torch.from_numpy(target), torch_w, **options),
        [log_probs],
    )


@given(class_problems())
def test_cross_entropy_probability_targets_match_torch(problem: dict) -> None:
    rng = np.random.default_rng(problem["target"].size)
    logits = problem["logits"]
    probabilities = rng.random(logits.shape).astype(logits.dtype)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    ours_w, torch_w = _constant(problem["weight"])
    options = {"reduction": problem["reduction"], "label_smoothing": problem["label_smoothing"]}
    check_against_torch(
        lambda x, y: F.cross_entropy(x, y, ours_w, **options),
        lambda x, y: TF.cross_entropy(x, y, torch_w, **options),
        [logits, probabilities],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_unbatched_matches_torch(reduction: str, label_smoothing: float) -> None:
    logits = np.random.default_rng(1).standard_normal(6).astype(np.float32)
    target = np.array(4)
    options = {"reduction": reduction, "label_smoothing": label_smoothing}
    check_against_torch(
        lambda x: F.cross_entropy(x, target, **options),
        lambda x: TF.cross_entropy(x, torch.from_numpy(target), **options),
        [logits],
    )


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient(
    label_smoothing: float, weighted: bool
) -> None:
    logits = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    target = np.full(3, -100)
    weight = np.arange(1, 5, dtype=np.float32) if weighted else None
    ours = cnnkit.Tensor(logits, requires_grad=True)
    theirs = torch.tensor(logits, requires_grad=True)
    ours_w, torch_w = _constant(weight)
    loss = F.cross_entropy(ours, target, ours_w, label_smoothing=label_smoothing)
    expected = TF.cross_entropy(
        theirs, torch.from_numpy(target), torch_w, label_smoothing=label_smoothing
    )
    loss.backward()
    expected.backward()
    assert np.isnan(loss.item()) and np.isnan(expected.item())
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())
    summed = F.cross_entropy(cnnkit.Tensor(logits), target, reduction="sum")
    assert summed.item() == 0.0


def test_nll_loss_zero_weight_targets_give_nan_like_torch() -> None:
    log_probs = np.log(np.full((3, 4), 0.25, dtype=np.float32))
    target = np.array([0, 0, -100])
    weight = np.array([0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    ours = cnnkit.Tensor(log_probs, requires_grad=True)
    theirs = torch.tensor(log_probs, requires_grad=True)
    F.nll_loss(ours, target, cnnkit.Tensor(weight)).backward()
    TF.nll_loss(theirs, torch.from_numpy(target), torch.from_numpy(weight)).backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = np.array([[1e4, -1e4, 0.0], [-5e3, 5e3, 5e3]], dtype=np.float32)
    target = np.array([1, 2])
    check_against_torch(
        lambda x: F.cross_entropy(x, target, label_smoothing=0.1),
        lambda x: TF.cross_entropy(x, torch.from_numpy(target), label_smoothing=0.1),
        [logits],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.4])
def test_cross_entropy_finite_differences(reduction: str, label_smoothing: float) -> None:
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 4, 3))
    target = np.array([[0, 3, -100], [2, 2, 1]])
    weight = cnnkit.Tensor(rng.random(4) + 0.5)
    check_gradients(
        lambda x: F.cross_entropy(
            x, target, weight, reduction=reduction, label_smoothing=label_smoothing
        ),
        [logits],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(4)
    weight = cnnkit.Tensor(rng.random(3) + 0.5)
    check_gradients(
        lambda x, y: F.cross_entropy(x, y, weight, reduction=reduction, label_smoothing=0.2),
        [rng.standard_normal((4, 3)), rng.random((4, 3))],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(5)
    target = np.array([[1, -100], [0, 2]])
    weight = cnnkit.Tensor(rng.random(3))
    check_gradients(
        lambda x: F.nll_loss(x, target, weight, reduction=reduction),
        [rng.standard_normal((2, 3, 2))],
    )


# --- elementwise losses --------------------------------------------------------------------------
@st.composite
def regression_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    return (
        (rng.standard_normal(shape) * scale).astype(dtype),
        (rng.standard_normal(shape) * scale).astype(dtype),
    )


@given(regression_pairs(), st.sampled_from(REDUCTIONS))
def test_mse_and_l1_match_torch(pair: tuple, reduction: str) -> None:
    check_against_torch(
        lambda x, y: F.mse_loss(x, y, reduction=reduction),
        lambda x, y: TF.mse_loss(x, y, reduction=reduction),
        pair,
    )
    check_against_torch(
        lambda x, y: F.l1_loss(x, y, reduction=reduction),
        lambda x, y: TF.l1_loss(x, y, reduction=reduction),
        pair,
    )


@given(regression_pairs(), st.sampled_from(REDUCTIONS), st.sampled_from([0.0, 0.3, 1.0, 4.0]))
def test_smooth_l1_and_huber_match_torch(pair: tuple, reduction: str, threshold: float) -> None:
    check_against_torch(
        lambda x, y: F.smooth_l1_loss(x, y, reduction=reduction, beta=threshold),
        lambda x, y: TF.smooth_l1_loss(x, y, reduction=reduction, beta=threshold),
        pair,
    )
    delta = threshold or 0.5
    check_against_torch(
        lambda x, y: F.huber_loss(x, y, reduction=reduction, delta=delta),
        lambda x, y: TF.huber_loss(x, y, reduction=reduction, delta=delta),
        pair,
    )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (F.mse_loss, TF.mse_loss),
        (F.l1_loss, TF.l1_loss),
        (F.smooth_l1_loss, TF.smooth_l1_loss),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),
        (F.cross_entropy, TF.cross_entropy),
    ],
)
def test_float32_input_with_float64_target_promotes_like_torch(ours: Any, theirs: Any) -> None:
    rng = np.random.default_rng(9)
    check_against_torch(
        ours, theirs, [rng.standard_normal((4, 3)).astype(np.float32), rng.random((4, 3))]
    )


def test_regression_losses_broadcast_with_a_warning_like_torch() -> None:
    rng = np.random.default_rng(6)
    prediction, target = rng.standard_normal((4, 3)), rng.standard_normal(3)
    with pytest.warns(UserWarning, match="target size"):
        check_against_torch(F.mse_loss, TF.mse_loss, [prediction, target])


@st.composite
def binary_problems(draw: st.DrawFn) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    logits = (rng.standard_normal(shape) * draw(st.sampled_from([1.0, 4.0]))).astype(dtype)
    hard = draw(st.booleans())
    target = (rng.random(shape) < 0.5 if hard else rng.random(shape)).astype(dtype)
    weight = rng.random(shape[-1:]).astype(dtype) + 0.2 if draw(st.booleans()) else None
    pos_weight = rng.random(shape[-1:]).astype(dtype) * 3 if draw(st.booleans()) else None
    return {
        "logits": logits,
        "target": target,
        "weight": weight,
        "pos_weight": pos_weight,
        "reduction": draw(st.sampled_from(REDUCTIONS)),
    }


@given(binary_problems())
def test_binary_cross_entropy_matches_torch(problem: dict) -> None:
    probabilities = 1 / (1 + np.exp(-problem["logits"]))
    ours_w, torch_w = _constant(problem["weight"])
    reduction = problem["reduction"]
    check_against_torch(
        lambda x, y: F.binary_cross_entropy(x, y, ours_w, reduction=reduction),
        lambda x, y: TF.binary_cross_entropy(x, y, torch_w, reduction=reduction),
        [probabilities, problem["target"]],
    )


@given(binary_problems())
def test_binary_cross_entropy_with_logits_matches_torch(problem: dict) -> None:
    ours_w, torch_w = _constant(problem["weight"])
    ours_p, torch_p = _constant(problem["pos_weight"])
    reduction = problem["reduction"]
    check_against_torch(
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, ours_w, reduction=reduction, pos_weight=ours_p
        ),
        lambda x, y: TF.binary_cross_entropy_with_logits(
            x, y, torch_w, reduction=reduction, pos_weight=torch_p
        ),
        [problem["logits"], problem["target"]],
    )


@pytest.mark.parametrize("pos_weight", [None, np.array([0.5, 2.0, 3.0], dtype=np.float32)])
def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits(
    pos_weight: np.ndarray | None,
) -> None:
    logits = np.array([[-1e4, -100.0, 100.0], [1e4, 0.0, -30.0]], dtype=np.float32)
    target = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.5]], dtype=np.float32)
    ours_p, torch_p = _constant(pos_weight)
    check_against_torch(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=ours_p),
        lambda x, y: TF.binary_cross_entropy_with_logits(x, y, pos_weight=torch_p),
        [logits, target],
    )


def test_binary_cross_entropy_clamps_saturated_probabilities_like_torch() -> None:
    probabilities = np.array([0.0, 1.0, 1e-30, 0.5], dtype=np.float32)
    target = np.array([1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    check_against_torch(
        lambda x, y: F.binary_cross_entropy(x, y, reduction="none"),
        lambda x, y: TF.binary_cross_entropy(x, y, reduction="none"),
        [probabilities, target],
        grad=[True, False],
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_elementwise_losses_finite_differences(reduction: str) -> None:
    rng = np.random.default_rng(7)
    pair = [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    for loss in (
        F.mse_loss,
        F.l1_loss,
        lambda x, y, reduction: F.smooth_l1_loss(x, y, reduction=reduction, beta=0.7),
        lambda x, y, reduction: F.huber_loss(x, y, reduction=reduction, delta=0.7),
    ):
        check_gradients(lambda x, y, loss=loss: loss(x, y, reduction=reduction), pair)
    weight = cnnkit.Tensor(rng.random(4) + 0.5)
    pos_weight = cnnkit.Tensor(rng.random(4) * 2)
    check_gradients(
        lambda x, y: F.binary_cross_entropy_with_logits(
            x, y, weight, reduction=reduction, pos_weight=pos_weight
        ),
        [pair[0], rng.random((3, 4))],
    )
    check_gradients(
        lambda x, y: F.binary_cross_entropy(x, y, weight, reduction=reduction),
        [rng.uniform(0.1, 0.9, (3, 4)), rng.random((3, 4))],
    )


# --- argument errors -------------------------------------------------------------------------
def _logits() -> cnnkit.Tensor:
    return cnnkit.Tensor(np.zeros((4, 3), dtype=np.float32))


def test_cross_entropy_rejects_mismatched_target_shape() -> None:
    with pytest.raises(ValueError, match=re.escape("expected (4,) for class indices")):
        F.cross_entropy(_logits(), np.array([0, 1, 2]))


def test_cross_entropy_rejects_out_of_range_class_naming_it() -> None:
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.cross_entropy(_logits(), np.array([0, 1, 5, 2]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.nll_loss(_logits(), np.array([0, -1, 1, 2]))


def test_cross_entropy_rejects_float_index_target() -> None:
    with pytest.raises(TypeError, match="class indices.*float32"):
        F.cross_entropy(_logits(), np.array([0.0, 1.0, 2.0, 1.0], dtype=np.float32))


def test_cross_entropy_rejects_integer_probability_target() -> None:
    with pytest.raises(TypeError, match="target must be a floating-point tensor"):
        F.cross_entropy(_logits(), np.zeros((4, 3), dtype=np.int64))


def test_cross_entropy_rejects_ignore_index_with_probability_target() -> None:
    with pytest.raises(ValueError, match="ignore_index=1"):
        F.cross_entropy(_logits(), np.full((4, 3), 1 / 3, np.float32), ignore_index=1)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_cross_entropy_rejects_label_smoothing_outside_unit_interval(smoothing: float) -> None:
    with pytest.raises(ValueError, match=f"label_smoothing.*{smoothing}"):
        F.cross_entropy(_logits(), np.array([0, 1, 2, 1]), label_smoothing=smoothing)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_losses_reject_weight_of_wrong_length(loss: object) -> None:
    with pytest.raises(ValueError, match=re.escape("one entry per class (3), got shape (4,)")):
        loss(_logits(), np.array([0, 1, 2, 1]), cnnkit.Tensor(np.ones(4, np.float32)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.cross_entropy(_logits(), np.array([0, 1, 2, 1]), reduction="avg"),
        lambda: F.nll_loss(_logits(), np.array([0, 1, 2, 1]), reduction="avg"),
        lambda: F.mse_loss(_logits(), _logits(), reduction="avg"),
        lambda: F.l1_loss(_logits(), _logits(), reduction="avg"),
        lambda: F.smooth_l1_loss(_logits(), _logits(), reduction="avg"),
        lambda: F.huber_loss(_logits(), _logits(), reduction="avg"),
        lambda: F.binary_cross_entropy(_logits(), _logits(), reduction="avg"),
        lambda: F.binary_cross_entropy_with_logits(_logits(), _logits(), reduction="avg"),
    ],
)
def test_losses_reject_unknown_reduction(call: object) -> None:
    with pytest.raises(ValueError, match="reduction must be 'none', 'mean' or 'sum', got 'avg'"):
        call()


def test_class_losses_reject_integer_input_and_scalar_input() -> None:
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        F.cross_entropy(np.zeros((2, 3), dtype=np.int64), np.array([0, 1]))
    with pytest.raises(ValueError, match="class dimension"):
        F.nll_loss(cnnkit.Tensor(np.float32(1.0)), np.array(0))


def test_regression_and_binary_losses_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        F.smooth_l1_loss(_logits(), _logits(), beta=-1)
    with pytest.raises(ValueError, match="delta must be positive, got 0"):
        F.huber_loss(_logits(), _logits(), delta=0)
    with pytest.raises(ValueError, match="does not broadcast"):
        F.mse_loss(_logits(), cnnkit.Tensor(np.zeros(5, np.float32)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(_logits() + 2, _logits())
    with pytest.raises(ValueError, match=re.escape("target shape (3,) must be the same")):
        F.binary_cross_entropy_with_logits(_logits(), cnnkit.Tensor(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=re.escape("pos_weight of shape (4,) does not broadcast")):
        F.binary_cross_entropy_with_logits(
            _logits(), _logits(), pos_weight=cnnkit.Tensor(np.ones(4, np.float32))
        )


# --- loss modules ----------------------------------------------------------------------------
def _module_cases() -> list[tuple[str, dict, str]]:
    """(class name, constructor options, kind of inputs)."""
    weight = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    return [
        ("CrossEntropyLoss", {}, "classes"),
        (
            "CrossEntropyLoss",
            {"weight": weight, "ignore_index": 1, "reduction": "sum", "label_smoothing": 0.2},
            "classes",
        ),
        ("NLLLoss", {"weight": weight, "reduction": "none"}, "classes"),
        ("MSELoss", {"reduction": "sum"}, "pair"),
        ("L1Loss", {}, "pair"),
        ("SmoothL1Loss", {"beta": 0.5}, "pair"),
        ("HuberLoss", {"reduction": "none", "delta": 0.3}, "pair"),
        ("BCELoss", {"weight": weight}, "probabilities"),
        ("BCEWithLogitsLoss", {"weight": weight, "pos_weight": weight * 2}, "binary"),
    ]


@pytest.mark.parametrize(("name", "options", "kind"), _module_cases())
def test_loss_modules_match_torch_and_hold_weights_as_buffers(
    name: str, options: dict, kind: str
) -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    inputs = {
        "classes": [x, np.array([0, 1, 2, 2])],
        "pair": [x, rng.standard_normal((4, 3)).astype(np.float32)],
        "probabilities": [1 / (1 + np.exp(-x)), rng.random((4, 3)).astype(np.float32)],
        "binary": [x, rng.random((4, 3)).astype(np.float32)],
    }[kind]
    if name == "NLLLoss":
        inputs[0] = inputs[0] - np.log(np.exp(inputs[0]).sum(1, keepdims=True))

    def convert(value: Any, to: Any) -> Any:
        return to(value) if isinstance(value, np.ndarray) else value

    ours = getattr(cnnkit.nn, name)(**{k: convert(v, cnnkit.Tensor) for k, v in options.items()})
    theirs = getattr(torch.nn, name)(
        **{k: convert(v, torch.from_numpy) for k, v in options.items()}
    )
    check_against_torch(ours, theirs, inputs)
    buffers = [key for key in ("weight", "pos_weight") if key in options]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == buffers
    assert list(ours.parameters()) == []


def test_loss_module_repr_shows_non_default_options() -> None:
    assert repr(cnnkit.nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert (
        repr(cnnkit.nn.CrossEntropyLoss(ignore_index=255, label_smoothing=0.1))
        == "CrossEntropyLoss(ignore_index=255, label_smoothing=0.1)"
    )
    assert repr(cnnkit.nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: cnnkit.nn.CrossEntropyLoss(reduction="avg"), "reduction must be"),
        (lambda: cnnkit.nn.CrossEntropyLoss(label_smoothing=2.0), "label_smoothing"),
        (lambda: cnnkit.nn.SmoothL1Loss(beta=-0.5), "beta must be non-negative, got -0.5"),
        (lambda: cnnkit.nn.HuberLoss(delta=-1.0), "delta must be positive, got -1.0"),
        (lambda: cnnkit.nn.BCELoss(reduction=None), "reduction must be"),
    ],
)
def test_loss_modules_reject_bad_options_at_construction(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
