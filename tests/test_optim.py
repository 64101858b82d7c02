"""Optimizers and learning-rate schedulers against torch: same trajectories, same lr sequences."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tests.helpers import assert_close

import cnnkit
from cnnkit import optim
from cnnkit.optim import lr_scheduler

# Odd sizes on purpose: torch's vectorised kernels handle a tail of < 8 elements separately,
# and the float32 fused multiply-add works in blocks of 32768 elements.
SHAPES = [(7, 5), (3,), (4, 3, 3, 3), (3, 23339)]
STEPS = 25
TRAJECTORY_RTOL = 1e-6

OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 1e-3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.5), "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "betas": (0.6, 0.9)}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0, "maximize": True}),
]


def _problem(
    seed: int, dtype: Any = np.float32, shapes: list[tuple[int, ...]] = SHAPES
) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial parameters and a gradient sequence; gradients vary in scale across steps."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    grads = [
        [
            (rng.standard_normal(shape) * 10.0 ** rng.integers(-2, 2)).astype(dtype)
            for shape in shapes
        ]
        for _ in range(STEPS)
    ]
    return initial, grads


def _ours(initial: list[np.ndarray]) -> list[cnnkit.Tensor]:
    return [cnnkit.Tensor(a.copy(), requires_grad=True) for a in initial]


def _theirs(initial: list[np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(a.copy(), requires_grad=True) for a in initial]


def _set_grads(ours: list, theirs: list, grads: list[np.ndarray]) -> None:
    for mine, reference, grad in zip(ours, theirs, grads, strict=True):
        mine.grad = grad.copy()
        reference.grad = torch.from_numpy(grad.copy())


def _assert_same_params(ours: list, theirs: list, rtol: float = TRAJECTORY_RTOL) -> None:
    for index, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
        assert mine.data.dtype == reference.detach().numpy().dtype
        assert_close(mine.data, reference.detach().numpy(), rtol, f"parameter {index}")


def _run_both(
    name: str,
    options: dict,
    seed: int = 0,
    dtype: Any = np.float32,
    shapes: list[tuple[int, ...]] = SHAPES,
) -> tuple:
    initial, grads = _problem(seed, dtype, shapes)
    ours, theirs = _ours(initial), _theirs(initial)
    mine = getattr(optim, name)(ours, **options)
    reference = getattr(torch.optim, name)(theirs, **options)
    for step_grads in grads:
        _set_grads(ours, theirs, step_grads)
        mine.step()
        reference.step()
        _assert_same_params(ours, theirs)
    return mine, reference


# --- update rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "options"), OPTIMIZER_CASES)
def test_optimizer_trajectory_matches_torch(name: str, options: dict) -> None:
    _run_both(name, options)


@pytest.mark.parametrize(("name", "options"), OPTIMIZER_CASES[:6])
def test_sgd_trajectory_is_bit_identical_to_torch(name: str, options: dict) -> None:
    """SGD has no sqrt, whose float32 rounding torch leaves to its vector library, so
    reproducing torch's fused multiply-adds makes every step bit-identical."""
    initial, grads = _problem(9)
    ours, theirs = _ours(initial), _theirs(initial)
    mine, reference = optim.SGD(ours, **options), torch.optim.SGD(theirs, **options)
    for step_grads in grads:
        _set_grads(ours, theirs, step_grads)
        mine.step()
        reference.step()
    for index, (param, torch_param) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_array_equal(param.data, torch_param.detach().numpy(), f"param {index}")


def test_non_contiguous_parameters_update_in_place() -> None:
    initial, grads = _problem(10)
    base = cnnkit.Tensor(initial[0].T.copy().T, requires_grad=True)  # Fortran order
    assert not base.data.flags.c_contiguous
    reference = torch.tensor(initial[0].copy(), requires_grad=True)
    mine = optim.SGD([base], lr=0.1, momentum=0.9, weight_decay=0.1)
    theirs = torch.optim.SGD([reference], lr=0.1, momentum=0.9, weight_decay=0.1)
    for step_grads in grads:
        _set_grads([base], [reference], step_grads[:1])
        mine.step()
        theirs.step()
    np.testing.assert_array_equal(base.data, reference.detach().numpy())


@pytest.mark.parametrize(("name", "options"), OPTIMIZER_CASES[2:5] + OPTIMIZER_CASES[9:11])
def test_optimizer_trajectory_matches_torch_in_float64(name: str, options: dict) -> None:
    _run_both(name, options, seed=1, dtype=np.float64)


@given(
    name=st.sampled_from(["SGD", "Adam", "AdamW"]),
    # torch's float32 sqrt (MKL) is up to ~3 ulp off, so Adam's steps differ by ~1e-7 · lr;
    # an lr far above practice (0.5) on parameters of size ~0.3 reaches 1e-6 in 25 steps.
    lr=st.floats(1e-4, 0.1),
    momentum=st.sampled_from([0.0, 0.5, 0.95]),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    weight_decay=st.sampled_from([0.0, 1e-4, 0.3]),
    seed=st.integers(0, 100),
)
def test_optimizer_hyperparameter_sweep_matches_torch(
    name: str,
    lr: float,
    momentum: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    seed: int,
) -> None:
    if name == "SGD":
        options = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    else:
        options = {"lr": lr, "betas": (beta1, beta2), "weight_decay": weight_decay}
    _run_both(name, options, seed=seed, shapes=SHAPES[:3])


def test_param_groups_take_their_own_options_and_skip_params_without_grad() -> None:
    initial, grads = _problem(2)
    ours, theirs = _ours(initial), _theirs(initial)

    def groups(params: list) -> list[dict]:
        return [
            {"params": params[:1], "lr": 0.3, "momentum": 0.5},
            {"params": params[1:], "nesterov": True},
        ]

    mine = optim.SGD(groups(ours), lr=0.01, momentum=0.9)
    reference = torch.optim.SGD(groups(theirs), lr=0.01, momentum=0.9)
    for step, step_grads in enumerate(grads):
        _set_grads(ours, theirs, step_grads)
        if step % 3 == 0:  # the last parameter sits this step out
            ours[-1].grad, theirs[-1].grad = None, None
        mine.step()
        reference.step()
        _assert_same_params(ours, theirs)
    assert mine.param_groups[0]["momentum"] == 0.5
    assert mine.param_groups[1]["nesterov"] is True


def test_add_param_group_later_matches_torch() -> None:
    initial, grads = _problem(3)
    ours, theirs = _ours(initial), _theirs(initial)
    mine = optim.Adam(ours[:2], lr=0.01)
    reference = torch.optim.Adam(theirs[:2], lr=0.01)
    for step, step_grads in enumerate(grads):
        if step == 5:
            mine.add_param_group({"params": [ours[2]], "lr": 0.1, "amsgrad": True})
            reference.add_param_group({"params": [theirs[2]], "lr": 0.1, "amsgrad": True})
        _set_grads(ours, theirs, step_grads)
        mine.step()
        reference.step()
        _assert_same_params(ours, theirs)


def test_zero_grad_sets_to_none_or_zeroes() -> None:
    params = _ours(_problem(4)[0])
    optimizer = optim.SGD(params, lr=0.1)
    for param in params:
        param.grad = np.ones_like(param.data)
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_evaluates_the_closure_and_returns_its_loss() -> None:
    param = cnnkit.Tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    optimizer = optim.SGD([param], lr=0.25)

    def closure() -> cnnkit.Tensor:
        optimizer.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(param.data, np.array([0.5, -1.0], dtype=np.float32))


def test_training_a_model_with_cross_entropy_matches_torch() -> None:
    """A linear softmax classifier trained by Adam: loss and optimizer together."""
    rng = np.random.default_rng(5)
    features = rng.standard_normal((16, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 16)
    start = rng.standard_normal((6, 3)).astype(np.float32) * 0.1
    ours = cnnkit.Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    mine, reference = optim.Adam([ours], lr=0.05), torch.optim.Adam([theirs], lr=0.05)
    for _ in range(20):
        mine.zero_grad()
        reference.zero_grad()
        loss = cnnkit.nn.functional.cross_entropy(
            cnnkit.Tensor(features) @ ours, labels, label_smoothing=0.1
        )
        expected = torch.nn.functional.cross_entropy(
            torch.from_numpy(features) @ theirs, torch.from_numpy(labels), label_smoothing=0.1
        )
        loss.backward()
        expected.backward()
        mine.step()
        reference.step()
        assert_close(loss.numpy(), expected.detach().numpy(), 1e-5, "loss")
    assert_close(ours.data, theirs.detach().numpy(), 1e-5, "weights")


# --- state_dict -----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "options"), [OPTIMIZER_CASES[4], OPTIMIZER_CASES[9]])
def test_state_dict_has_torch_structure(name: str, options: dict) -> None:
    mine, reference = _run_both(name, options)
    ours, theirs = mine.state_dict(), reference.state_dict()
    assert set(ours) == {"state", "param_groups"}
    assert set(ours["state"]) == set(theirs["state"])
    for index, values in theirs["state"].items():
        assert set(ours["state"][index]) == set(values)
        for key, value in values.items():
            assert isinstance(ours["state"][index][key], np.ndarray)
            assert_close(ours["state"][index][key], value.numpy(), TRAJECTORY_RTOL, key)
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group["params"] == torch_group["params"]
        assert all(group[key] == torch_group[key] for key in group)


def _steps(optimizer: optim.Optimizer, params: list, grads: list[list[np.ndarray]]) -> None:
    for step_grads in grads:
        for param, grad in zip(params, step_grads, strict=True):
            param.grad = grad.copy()
        optimizer.step()


@pytest.mark.parametrize(("name", "options"), OPTIMIZER_CASES[2:5] + OPTIMIZER_CASES[8:])
def test_state_dict_round_trip_resumes_bit_exactly(name: str, options: dict) -> None:
    initial, grads = _problem(6)
    half = STEPS // 2
    straight = _ours(initial)
    _steps(getattr(optim, name)(straight, **options), straight, grads)

    first_params = _ours(initial)
    first = getattr(optim, name)(first_params, **options)
    _steps(first, first_params, grads[:half])
    saved = pickle.loads(pickle.dumps(first.state_dict()))
    checkpoint = [p.data.copy() for p in first_params]
    _steps(first, first_params, grads[half : half + 1])  # must not leak into the saved copy

    resumed_params = _ours(checkpoint)
    resumed = getattr(optim, name)(resumed_params, lr=123.0)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == options.get("lr", 1e-3)
    _steps(resumed, resumed_params, grads[half:])
    for mine, other in zip(straight, resumed_params, strict=True):
        np.testing.assert_array_equal(mine.data, other.data)


def test_load_state_dict_rejects_mismatched_groups() -> None:
    params = _ours(_problem(7)[0])
    saved = optim.SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="has 1 parameter groups, the optimizer has 2"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(
        ValueError, match=f"group 0 has {len(SHAPES)} parameters, the optimizer's has 2"
    ):
        optim.SGD(params[:2], lr=0.1).load_state_dict(saved)


# --- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate: lr=-0.1"),
        (lambda p: optim.SGD(p, momentum=-0.9), "Invalid momentum value: momentum=-0.9"),
        (lambda p: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: weight_decay=-1"),
        (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum"),
        (
            lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
            "zero dampening, got momentum=0.9, dampening=0.1",
        ),
        (lambda p: optim.Adam(p, lr=-1e-3), "Invalid learning rate: lr=-0.001"),
        (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: eps=-1e-08"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\]=1.0"),
        (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), r"betas\[1\]=-0.1"),
        (lambda p: optim.AdamW(p, weight_decay=-0.01), "weight_decay=-0.01"),
        (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda p: optim.SGD(p + p[:1], lr=0.1), "more than once"),
        (
            lambda p: optim.SGD([{"params": p}, {"params": p[:1]}], lr=0.1),
            "more than one parameter group",
        ),
    ],
)
def test_optimizers_reject_bad_arguments(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(_ours(_problem(8)[0]))


def test_optimizers_reject_non_tensor_params() -> None:
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got Tensor"):
        optim.SGD(cnnkit.Tensor(np.zeros(3, np.float32)), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam([{"params": set(_ours(_problem(8)[0]))}])


# --- learning-rate schedulers ----------------------------------------------------------------
SCHEDULER_CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1, "gamma": 0.9}),
    ("MultiStepLR", {"milestones": [3, 10, 10, 40], "gamma": 0.3}),
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 60}),
    ("LambdaLR", {"lr_lambda": lambda epoch: 1 / (1 + epoch) ** 0.5}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 61}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "total_steps": 70, "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 1.0, "epochs": 7, "steps_per_epoch": 9, "three_phase": True}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 65, "pct_start": 0.1, "cycle_momentum": False}),
]
SCHEDULE_STEPS = 60


def _schedule(module: Any, optimizer_name: str, name: str, options: dict) -> list[tuple]:
    """The (lrs, momenta) seen at each of SCHEDULE_STEPS steps, for two parameter groups."""
    torch_side = module is torch
    make = torch.zeros if torch_side else (lambda n: cnnkit.Tensor(np.zeros(n, np.float32)))
    params = [make(2), make(3)]
    for param in params:
        param.requires_grad_(True)
    groups = [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}]
    if optimizer_name == "SGD":
        optimizer = module.optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        optimizer = module.optim.Adam(groups, lr=0.1)
    scheduler = getattr(module.optim.lr_scheduler, name)(optimizer, **options)
    seen = []
    for _ in range(SCHEDULE_STEPS):
        momenta = [g.get("momentum", g.get("betas")) for g in optimizer.param_groups]
        seen.append((list(scheduler.get_last_lr()), momenta))
        optimizer.step()
        scheduler.step()
    return seen


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam"])
@pytest.mark.parametrize(("name", "options"), SCHEDULER_CASES)
def test_scheduler_lr_sequence_equals_torch(optimizer_name: str, name: str, options: dict) -> None:
    assert _schedule(cnnkit, optimizer_name, name, options) == _schedule(
        torch, optimizer_name, name, options
    )


@pytest.mark.parametrize(("name", "options"), SCHEDULER_CASES)
def test_scheduler_state_dict_round_trip_continues_identically(name: str, options: dict) -> None:
    def build() -> tuple[optim.Optimizer, lr_scheduler.LRScheduler]:
        params = [cnnkit.Tensor(np.zeros(2, np.float32), requires_grad=True) for _ in range(2)]
        optimizer = optim.SGD(
            [{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], lr=0.1, momentum=0.9
        )
        return optimizer, getattr(lr_scheduler, name)(optimizer, **options)

    optimizer, scheduler = build()
    for _ in range(SCHEDULE_STEPS // 2):
        optimizer.step()
        scheduler.step()
    # No optimizer step ran, so both dicts are plain data; they must survive JSON (tuples
    # become lists, int keys strings) as in a checkpoint's metadata.
    saved_optimizer = json.loads(json.dumps(optimizer.state_dict()))
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))
    resumed_optimizer, resumed = build()
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    for _ in range(SCHEDULE_STEPS // 2 - 1):
        optimizer.step()
        scheduler.step()
        resumed_optimizer.step()
        resumed.step()
        assert resumed.get_last_lr() == scheduler.get_last_lr()
        assert _options(resumed_optimizer) == _options(optimizer)


def _options(optimizer: optim.Optimizer) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def test_cosine_annealing_follows_the_closed_form() -> None:
    params = [cnnkit.Tensor(np.zeros(2, np.float32), requires_grad=True)]
    optimizer = optim.SGD(params, lr=0.2)
    scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.01)
    for epoch in range(1, 31):
        optimizer.step()
        scheduler.step()
        expected = 0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert math.isclose(scheduler.get_last_lr()[0], expected, rel_tol=1e-9, abs_tol=1e-12)


def test_one_cycle_rejects_stepping_past_total_steps() -> None:
    params = [cnnkit.Tensor(np.zeros(2, np.float32), requires_grad=True)]
    optimizer = optim.SGD(params, lr=0.1)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=3)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total"):
        scheduler.step()


def test_scheduler_stepped_before_the_optimizer_warns_like_torch() -> None:
    params = [cnnkit.Tensor(np.zeros(2, np.float32), requires_grad=True)]
    optimizer = optim.SGD(params, lr=0.1)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2)
    with pytest.warns(UserWarning, match=r"before `optimizer.step\(\)`"):
        scheduler.step()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), "step_size must be a positive integer"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max must be a positive"),
        (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), "either total_steps OR"),
        (lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=-5), "total_steps must be"),
        (
            lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=5, pct_start=1.5),
            "pct_start must be a float between 0 and 1, got 1.5",
        ),
        (
            lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=5, anneal_strategy="exp"),
            "anneal_strategy must be one of 'cos' or 'linear', got 'exp'",
        ),
        (
            lambda o: lr_scheduler.OneCycleLR(o, [1.0, 2.0], total_steps=5),
            "max_lr must have the same length as optimizer.param_groups",
        ),
        (lambda o: lr_scheduler.LambdaLR(o, [abs, abs]), "lr_lambda must have the same length"),
    ],
)
def test_schedulers_reject_bad_arguments(make: Any, message: str) -> None:
    params = [cnnkit.Tensor(np.zeros(2, np.float32), requires_grad=True)]
    with pytest.raises(ValueError, match=message):
        make(optim.SGD(params, lr=0.1, momentum=0.9))


def test_schedulers_reject_a_non_optimizer() -> None:
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=3)
