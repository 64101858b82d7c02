import numpy as np
import pytest
import torch
from tests.helpers import check_against_torch, check_gradients

import cnnkit


def test_python_floats_are_float32_and_ints_int64():
    assert cnnkit.tensor([1.0, 2.0]).dtype == np.float32
    assert cnnkit.tensor([1, 2]).dtype == np.int64
    assert cnnkit.tensor(np.zeros(3)).dtype == np.float64


def test_scalar_keeps_tensor_dtype():
    x = cnnkit.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (2.5 - x).dtype == np.float32


def test_reused_tensor_accumulates_gradient():
    x = cnnkit.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x * x + x * 3.0).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_gradients_accumulate_across_backward_calls():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_deep_chain_does_not_hit_recursion_limit():
    x = cnnkit.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_no_grad_builds_no_graph():
    x = cnnkit.tensor([1.0], requires_grad=True)
    with cnnkit.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.is_leaf


def test_backward_on_non_scalar_needs_gradient():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient must be given"):
        (x * 2.0).backward()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        cnnkit.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize(
    "name", ["add", "sub", "mul", "div"]
)
@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5, 1), (1, 6))],
)
def test_broadcasting_binary_ops(name, shape_a, shape_b, rng):
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = (rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)).astype(np.float32)
    check_against_torch(getattr(cnnkit.ops, name), getattr(torch, name), [a, b])
    check_gradients(getattr(cnnkit.ops, name), [a, b])
