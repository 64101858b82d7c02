import numpy as np
import pytest
import torch
from tests.helpers import check_against_torch, check_gradients

import cnnkit
import cnnkit.nn.functional as F


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


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((5, 1), (1, 6))],
)
def test_broadcasting_binary_ops(name, shape_a, shape_b, rng):
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = (rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1, 1], shape_b)).astype(np.float32)
    check_against_torch(getattr(cnnkit.ops, name), getattr(torch, name), [a, b])
    check_gradients(getattr(cnnkit.ops, name), [a, b])


# --- autograd engine ---------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1_000])
def test_deep_chain_of_mixed_ops_matches_torch(depth):
    x = cnnkit.tensor([0.5, -0.25], requires_grad=True)
    y = x
    for _ in range(depth):
        y = (y * 1.0001).tanh() * 0.999 + y * 0.001
    y.sum().backward()
    t = torch.tensor([0.5, -0.25], requires_grad=True)
    z = t
    for _ in range(depth):
        z = (z * 1.0001).tanh() * 0.999 + z * 0.001
    z.sum().backward()
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=1e-4)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-3)


def test_diamond_graph_accumulates_each_path_once():
    x = cnnkit.tensor([2.0], requires_grad=True)
    a = x * 3.0
    b = a * a + a.exp()  # a is used by three ops
    c = b * x + a
    c.backward(np.ones(1, np.float32))
    t = torch.tensor([2.0], requires_grad=True)
    ta = t * 3.0
    (((ta * ta + ta.exp()) * t) + ta).backward(torch.ones(1))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-6)


def test_broadcast_gradient_sums_to_input_shape():
    bias = cnnkit.tensor(np.zeros((1, 3, 1)), requires_grad=True)
    x = cnnkit.tensor(np.ones((4, 3, 5)))
    (x + bias).sum().backward()
    assert bias.grad.shape == (1, 3, 1)
    np.testing.assert_array_equal(bias.grad, np.full((1, 3, 1), 20.0))


def test_backward_twice_needs_retain_graph():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_intermediate_tensors_get_no_grad_and_are_not_leaves():
    x = cnnkit.tensor([1.0], requires_grad=True)
    y = x * 2.0
    (y * 3.0).sum().backward()
    assert y.grad is None and not y.is_leaf and x.is_leaf
    np.testing.assert_array_equal(x.grad, [6.0])


def test_backward_gradient_argument_is_checked():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="does not match"):
        (x * 2.0).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        cnnkit.tensor([1.0]).backward()


def test_only_inputs_that_require_grad_receive_it():
    a = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    b = cnnkit.tensor([3.0, 4.0])
    (a * b).sum().backward()
    assert b.grad is None
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_no_grad_works_as_decorator_and_restores_state():
    @cnnkit.no_grad()
    def double(t):
        return t * 2.0

    x = cnnkit.tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad
    assert cnnkit.is_grad_enabled()
    with cnnkit.no_grad():
        with cnnkit.enable_grad():
            assert (x * 2.0).requires_grad
        assert not cnnkit.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_detach_shares_data_but_leaves_the_graph():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    x2 = x.detach()
    assert np.shares_memory(x2.numpy(), x.numpy())


def test_zero_and_fill_work_in_place():
    x = cnnkit.tensor([1.0, 2.0])
    assert x.zero_() is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.0])
    x.fill_(3.0)
    np.testing.assert_array_equal(x.numpy(), [3.0, 3.0])


def test_setitem_is_refused_on_tensors_that_record_gradients():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        x[0] = 5.0
    with cnnkit.no_grad():
        x[0] = 5.0
    plain = cnnkit.tensor([1.0, 2.0, 3.0])
    plain[plain > 1.5] = 0.0
    np.testing.assert_array_equal(plain.numpy(), [1.0, 0.0, 0.0])


# --- dtypes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("left", "right"),
    [
        (np.array([1, 2]), 2.5),
        (np.array([1.0, 2.0], np.float32), np.array(2.0)),  # 0-d float64 keeps float32
        (np.array([1.0, 2.0], np.float32), np.array([2.0, 3.0])),  # float64 wins
        (np.array([1, 2]), np.array([1.5, 2.0], np.float32)),  # int + float32
        (np.array([1, 2], np.int32), 3),
        (np.array([1.0, 2.0]), 2),
        (np.array(1.0, np.float32), np.array([1.0, 2.0])),
    ],
)
@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
def test_binary_op_dtype_promotion_matches_torch(left, right, op):
    def wrap(value, module):
        return value if isinstance(value, float | int) else module.tensor(value)

    ours = getattr(cnnkit.ops, op)(wrap(left, cnnkit), wrap(right, cnnkit))
    theirs = getattr(torch, op)(wrap(left, torch), wrap(right, torch))
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_bool_with_int_promotes_to_int64():
    assert (cnnkit.tensor([True, False]) + 2).dtype == np.int64
    assert (cnnkit.tensor([True, False]) * True).dtype == np.bool_


def test_cat_and_stack_promote_like_torch():
    ints, floats = np.array([1, 2]), np.array([0.5], np.float32)
    for join in ("cat", "stack"):
        pieces = [ints, ints] if join == "stack" else [ints, floats]
        ours = getattr(cnnkit, join)([cnnkit.tensor(p) for p in pieces])
        theirs = getattr(torch, join)([torch.tensor(p) for p in pieces])
        assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    x = cnnkit.tensor([1.0], requires_grad=True)
    joined = cnnkit.cat([x, cnnkit.tensor(np.array([2.0]))])
    assert joined.dtype == np.float64
    joined.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_division_gives_float32():
    assert (cnnkit.tensor([1, 2]) / cnnkit.tensor([2, 2])).dtype == np.float32


def test_cast_keeps_gradient_in_source_dtype():
    x = cnnkit.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3.0
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_python_scalar_conversions():
    x = cnnkit.tensor([2.5])
    assert float(x) == 2.5 and x.item() == 2.5 and bool(x)
    assert int(cnnkit.tensor(3)) == 3
    assert [10, 20, 30][cnnkit.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="2 elements"):
        cnnkit.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="2 elements"):
        bool(cnnkit.tensor([1.0, 2.0]))


# --- repr and attributes -----------------------------------------------------------------------
def test_repr_shows_dtype_and_grad_state_like_torch():
    assert repr(cnnkit.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cnnkit.tensor([1, 2])) == "tensor([1, 2], dtype=int64)"
    assert repr(cnnkit.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    x = cnnkit.tensor([1.0], requires_grad=True)
    assert repr(x * 2.0) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(F.softmax(x, 0)) == "tensor([1.], grad_fn=<SoftmaxBackward>)"


def test_attributes():
    x = cnnkit.tensor(np.zeros((2, 3, 4), np.float32))
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and len(x) == 2
    assert x.dtype == np.float32 and isinstance(x.numpy(), np.ndarray)
    assert np.asarray(x) is x.numpy()
    assert x.grad_fn is None


def test_tensor_methods_delegate_to_ops():
    x = cnnkit.tensor(np.arange(6.0).reshape(2, 3))
    assert x.view(3, 2).shape == (3, 2) and x.view_as(cnnkit.zeros(6)).shape == (6,)
    assert x.t().shape == (3, 2) and x.unsqueeze(0).squeeze(0).shape == (2, 3)
    assert [p.shape for p in x.chunk(2, 1)] == [(2, 2), (2, 1)]
    assert x.max(cnnkit.tensor(2.0)).numpy().min() == 2.0
    assert x.min(cnnkit.tensor(2.0)).numpy().max() == 2.0
    assert bool((x >= 0).all()) and not bool((x < 0).any())
    np.testing.assert_array_equal(x.where(x > 2, -1.0).numpy(), [[-1, -1, -1], [3, 4, 5]])
    np.testing.assert_array_equal(x.pow(2).numpy(), np.arange(6.0).reshape(2, 3) ** 2)
    np.testing.assert_array_equal(abs(-x).numpy(), x.neg().abs().numpy())


# --- factories and the library-wide random generator --------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.zeros(2, 3),
        lambda m: m.zeros((2, 3)),
        lambda m: m.ones([4]),
        lambda m: m.full((2, 2), 7),
        lambda m: m.full((2,), 1.5),
        lambda m: m.full((2,), True),
        lambda m: m.arange(5),
        lambda m: m.arange(1, 2, 0.25),
        lambda m: m.arange(0.0, 1.0, 0.1),
        lambda m: m.arange(10, 2, -3),
        lambda m: m.arange(3.0),
    ],
)
def test_factories_match_torch(call):
    ours, theirs = call(cnnkit), call(torch)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_like_factories_and_dtype_argument():
    x = cnnkit.tensor(np.zeros((2, 3)))
    assert cnnkit.zeros_like(x).dtype == np.float64 and cnnkit.ones_like(x).shape == (2, 3)
    assert cnnkit.full_like(x, 2).numpy().sum() == 12.0
    assert cnnkit.zeros(3, dtype=np.float64).dtype == np.float64
    assert cnnkit.ones(2, requires_grad=True).requires_grad


def test_manual_seed_makes_every_random_function_reproducible():
    def draw():
        generator = cnnkit.functions.get_generator()
        return (
            cnnkit.randn(3, 4).numpy(),
            cnnkit.rand(5).numpy(),
            cnnkit.randint(0, 10, (6,)).numpy(),
            generator.permutation(8),
        )

    cnnkit.manual_seed(123)
    first = draw()
    cnnkit.manual_seed(123)
    second = draw()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    cnnkit.manual_seed(124)
    assert not np.array_equal(cnnkit.randn(3, 4).numpy(), first[0])


def test_manual_seed_reseeds_the_same_generator_object():
    kept = cnnkit.functions.get_generator()
    assert cnnkit.manual_seed(5) is kept and cnnkit.functions.default_generator() is kept
    expected = np.random.default_rng(5).standard_normal(3)
    cnnkit.manual_seed(5)
    np.testing.assert_array_equal(kept.standard_normal(3), expected)


def test_random_factories_shapes_dtypes_and_ranges():
    cnnkit.manual_seed(0)
    normal = cnnkit.randn(20_000)
    assert normal.dtype == np.float32 and abs(normal.numpy().mean()) < 0.05
    assert abs(normal.numpy().std() - 1) < 0.05
    uniform = cnnkit.rand(2, 1000, dtype=np.float64)
    assert uniform.dtype == np.float64 and uniform.shape == (2, 1000)
    assert uniform.numpy().min() >= 0 and uniform.numpy().max() < 1
    ints = cnnkit.randint(3, 7, (1000,))
    assert ints.dtype == np.int64 and set(np.unique(ints.numpy())) == {3, 4, 5, 6}
    assert cnnkit.randint(4, (10,)).numpy().max() < 4
    assert cnnkit.randn(2, requires_grad=True).requires_grad
    own = np.random.default_rng(9)
    np.testing.assert_array_equal(
        cnnkit.randn(4, generator=own).numpy(),
        np.random.default_rng(9).standard_normal(4, dtype=np.float32),
    )


def test_seed_returns_a_seed_that_replays():
    used = cnnkit.seed()
    first = cnnkit.rand(3).numpy()
    cnnkit.manual_seed(used)
    np.testing.assert_array_equal(cnnkit.rand(3).numpy(), first)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: cnnkit.cat([]), ValueError, "non-empty"),
        (lambda: cnnkit.cat([cnnkit.zeros(2, 3), cnnkit.zeros(3, 3)], 1), ValueError, "shape"),
        (lambda: cnnkit.cat([cnnkit.zeros(2, 3), cnnkit.zeros(3)]), ValueError, "dimensions"),
        (lambda: cnnkit.cat([cnnkit.zeros(2)], dim=1), IndexError, "dim=1"),
        (lambda: cnnkit.stack([cnnkit.zeros(2), cnnkit.zeros(3)]), ValueError, "equal size"),
        (lambda: cnnkit.stack([cnnkit.zeros(2)], dim=3), IndexError, "dim=3"),
        (lambda: cnnkit.stack([]), ValueError, "non-empty"),
        (lambda: cnnkit.split(cnnkit.zeros(4), 0), ValueError, "split_size=0"),
        (lambda: cnnkit.split(cnnkit.zeros(4), [1, 2]), ValueError, r"\[1, 2\]"),
        (lambda: cnnkit.chunk(cnnkit.zeros(4), 0), ValueError, "chunks=0"),
    ],
)
def test_join_and_split_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cat_stack_split_chunk_match_torch_on_examples():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    b = np.arange(4.0, dtype=np.float32).reshape(2, 2)
    check_against_torch(
        lambda x, y: cnnkit.cat([x, y], -1), lambda x, y: torch.cat([x, y], -1), [a, b]
    )
    check_against_torch(lambda x: cnnkit.stack([x, x], 2), lambda x: torch.stack([x, x], 2), [a])
    for pieces in (cnnkit.split(cnnkit.tensor(a), 2, 1), cnnkit.chunk(cnnkit.tensor(a), 2, 1)):
        assert [p.shape for p in pieces] == [(2, 2), (2, 1)]


@pytest.mark.parametrize(
    "module", [cnnkit.functions, cnnkit.nn.functional.activation], ids=lambda m: m.__name__
)
def test_docstring_examples_run(module):
    import doctest

    failures, attempted = doctest.testmod(
        module, extraglobs={"cnnkit": cnnkit, "F": F}, raise_on_error=False
    )
    assert attempted > 0 and failures == 0
