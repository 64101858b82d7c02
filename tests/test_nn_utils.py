"""nn.utils: gradient clipping and parameter flattening against torch.nn.utils."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnkit
from cnnkit import nn


def twin_parameters(rng: np.random.Generator, scale: float) -> tuple[list, list]:
    shapes = [(3, 4), (4,), (2, 2, 3)]
    ours, theirs = [], []
    for shape in shapes:
        value = rng.standard_normal(shape).astype(np.float32)
        grad = (rng.standard_normal(shape) * scale).astype(np.float32)
        ours.append(nn.Parameter(value.copy()))
        ours[-1].grad = grad.copy()
        theirs.append(torch.nn.Parameter(torch.tensor(value)))
        theirs[-1].grad = torch.tensor(grad)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize(("scale", "max_norm"), [(1.0, 0.5), (0.01, 10.0)])
def test_clip_grad_norm_matches_torch(norm_type: float, scale: float, max_norm: float) -> None:
    ours, theirs = twin_parameters(np.random.default_rng(0), scale)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), torch_total.item(), rtol=1e-5)
    for our_param, torch_param in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(our_param.grad, torch_param.grad.numpy(), rtol=1e-5)


def test_clip_grad_norm_edge_cases() -> None:
    param = nn.Parameter(np.zeros(2, np.float32))
    assert nn.utils.clip_grad_norm_(param, 1.0).item() == 0.0  # no gradient yet
    param.grad = np.array([np.inf, 1.0], np.float32)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(param, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        nn.utils.clip_grad_norm_(param, -1.0)


def test_clip_grad_value_matches_torch() -> None:
    ours, theirs = twin_parameters(np.random.default_rng(1), 2.0)
    nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for our_param, torch_param in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(our_param.grad, torch_param.grad.numpy())
    with pytest.raises(ValueError, match="clip_value"):
        nn.utils.clip_grad_value_(ours, -1.0)


def test_parameters_to_vector_round_trip() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    model.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    vector = nn.utils.parameters_to_vector(model.parameters())
    expected = torch.nn.utils.parameters_to_vector(twin.parameters()).detach().numpy()
    np.testing.assert_array_equal(vector.numpy(), expected)
    nn.utils.vector_to_parameters(cnnkit.tensor(vector.numpy() * 2), model.parameters())
    np.testing.assert_array_equal(model[1].bias.numpy(), 2 * twin[1].bias.detach().numpy())
    with pytest.raises(ValueError, match="elements"):
        nn.utils.vector_to_parameters(cnnkit.tensor(np.zeros(3, np.float32)), model.parameters())
    with pytest.raises(TypeError, match="1-D Tensor"):
        nn.utils.vector_to_parameters(np.zeros(3), model.parameters())
