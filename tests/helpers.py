"""The one torch-oracle helper every op test uses, plus a float64 finite-difference check.

``check_against_torch`` runs the same function in cnnkit and in PyTorch on the same random
inputs, compares the forward values, then back-propagates the same random upstream gradient
through both and compares every input's gradient. Tolerances are relative to the largest
reference magnitude: 1e-5 forward, 1e-4 gradients (float32), as the engine issue demands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import cnnkit

FORWARD_RTOL = 1e-5
GRAD_RTOL = 1e-4


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str = "") -> None:
    """|actual - expected| <= rtol * max|expected| everywhere (and the same shape)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.size == 0:
        return
    scale = max(float(np.max(np.abs(expected))), 1e-6)
    error = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
    assert error <= rtol * scale, f"{what}: max error {error:.3g} > {rtol:g} x {scale:.3g}"


def check_against_torch(
    ours: Callable[..., cnnkit.Tensor],
    theirs: Callable[..., torch.Tensor],
    inputs: Sequence[np.ndarray],
    *,
    grad: bool | Sequence[bool] = True,
    forward_rtol: float = FORWARD_RTOL,
    grad_rtol: float = GRAD_RTOL,
    seed: int = 7919,
) -> None:
    """Compare ``ours(*tensors)`` with ``theirs(*torch_tensors)``: values and all gradients.

    ``inputs`` are NumPy arrays; floating ones get ``requires_grad`` where ``grad`` says so.
    The upstream gradient comes from its own seed, never the tests' ``rng`` fixture's (0): an
    upstream equal to the input makes e.g. a normalisation's input gradient exactly zero.
    """
    wants_grad = [grad] * len(inputs) if isinstance(grad, bool) else list(grad)
    wants_grad = [
        w and np.issubdtype(np.asarray(x).dtype, np.floating)
        for w, x in zip(wants_grad, inputs, strict=True)
    ]
    our_inputs = [
        cnnkit.Tensor(np.array(x), requires_grad=w) for x, w in zip(inputs, wants_grad, strict=True)
    ]
    torch_inputs = [
        torch.tensor(np.array(x), requires_grad=w) for x, w in zip(inputs, wants_grad, strict=True)
    ]
    our_out = ours(*our_inputs)
    torch_out = theirs(*torch_inputs)
    assert our_out.dtype == np.dtype(str(torch_out.dtype).removeprefix("torch.")), (
        f"dtype {our_out.dtype} != {torch_out.dtype}"
    )
    assert_close(our_out.numpy(), torch_out.detach().numpy(), forward_rtol, "forward")

    if not any(wants_grad) or not torch_out.requires_grad:
        return
    rng = np.random.default_rng(seed)
    upstream = rng.standard_normal(torch_out.shape).astype(our_out.dtype)
    our_out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    for index, (ours_in, torch_in) in enumerate(zip(our_inputs, torch_inputs, strict=True)):
        if not wants_grad[index]:
            continue
        expected = torch_in.grad
        expected = np.zeros(torch_in.shape) if expected is None else expected.numpy()
        actual = ours_in.grad if ours_in.grad is not None else np.zeros(ours_in.shape)
        assert_close(actual, expected, grad_rtol, f"gradient of input {index}")


def check_gradients(
    fn: Callable[..., cnnkit.Tensor],
    inputs: Sequence[np.ndarray],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    max_elements: int = 40,
    seed: int = 0,
) -> None:
    """float64 central differences of sum(fn(x) * g) against the analytic gradient.

    At most ``max_elements`` randomly chosen elements per input are perturbed, so large
    inputs stay cheap.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    tensors = [cnnkit.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)

    def objective() -> float:
        with cnnkit.no_grad():
            return float(np.sum(fn(*[cnnkit.Tensor(a) for a in arrays]).numpy() * upstream))

    for index, (array, tensor) in enumerate(zip(arrays, tensors, strict=True)):
        analytic = tensor.grad if tensor.grad is not None else np.zeros_like(array)
        flat = array.reshape(-1)
        chosen = rng.choice(flat.size, size=min(max_elements, flat.size), replace=False)
        numeric = np.empty(len(chosen))
        for j, position in enumerate(chosen):
            original = flat[position]
            flat[position] = original + eps
            plus = objective()
            flat[position] = original - eps
            minus = objective()
            flat[position] = original
            numeric[j] = (plus - minus) / (2 * eps)
        picked = analytic.reshape(-1)[chosen]
        scale = max(float(np.max(np.abs(analytic))), 1.0)
        error = float(np.max(np.abs(picked - numeric)))
        assert error <= rtol * scale, (
            f"input {index}: finite-difference error {error:.3g} > {rtol:g} x {scale:.3g}"
        )
