"""Elementwise ops: arithmetic with broadcasting, and unary functions.

Each op computes its output and defines ``backward`` beside it; ``backward`` returns one
gradient per input, already reduced to that input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.ops._util import as_tensor, unbroadcast
from cnnkit.tensor import Tensor


def _binary_inputs(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    return as_tensor(a, like), as_tensor(b, like)


def add(a: Any, b: Any) -> Tensor:
    a, b = _binary_inputs(a, b)

    def backward(grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return unbroadcast(grad, a.shape), unbroadcast(grad, b.shape)

    return Tensor.from_op(a.data + b.data, (a, b), backward)


def sub(a: Any, b: Any) -> Tensor:
    a, b = _binary_inputs(a, b)

    def backward(grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return unbroadcast(grad, a.shape), unbroadcast(-grad, b.shape)

    return Tensor.from_op(a.data - b.data, (a, b), backward)


def mul(a: Any, b: Any) -> Tensor:
    a, b = _binary_inputs(a, b)

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        grad_a = unbroadcast(grad * b.data, a.shape) if a.requires_grad else None
        grad_b = unbroadcast(grad * a.data, b.shape) if b.requires_grad else None
        return grad_a, grad_b

    return Tensor.from_op(a.data * b.data, (a, b), backward)


def div(a: Any, b: Any) -> Tensor:
    a, b = _binary_inputs(a, b)
    out = a.data / b.data

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        grad_a = unbroadcast(grad / b.data, a.shape) if a.requires_grad else None
        grad_b = unbroadcast(-grad * out / b.data, b.shape) if b.requires_grad else None
        return grad_a, grad_b

    return Tensor.from_op(out, (a, b), backward)


def pow(base: Any, exponent: Any) -> Tensor:
    base, exponent = _binary_inputs(base, exponent)
    out = base.data**exponent.data

    def backward(grad: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        grad_base = grad_exponent = None
        if base.requires_grad:
            local = exponent.data * base.data ** (exponent.data - 1)
            grad_base = unbroadcast(grad * local, base.shape)
        if exponent.requires_grad:
            # d(b^e)/de = b^e log b, taken as 0 where b == 0 (PyTorch's convention)
            with np.errstate(divide="ignore", invalid="ignore"):
                local = np.where(base.data == 0, 0, out * np.log(base.data))
            grad_exponent = unbroadcast(grad * local, exponent.shape)
        return grad_base, grad_exponent

    return Tensor.from_op(out, (base, exponent), backward)


def neg(a: Tensor) -> Tensor:
    return Tensor.from_op(-a.data, (a,), lambda grad: (-grad,))


def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)
    return Tensor.from_op(out, (a,), lambda grad: (grad * out,))


def log(a: Tensor) -> Tensor:
    return Tensor.from_op(np.log(a.data), (a,), lambda grad: (grad / a.data,))


def sqrt(a: Tensor) -> Tensor:
    out = np.sqrt(a.data)
    return Tensor.from_op(out, (a,), lambda grad: (grad / (2 * out),))


def abs(a: Tensor) -> Tensor:
    return Tensor.from_op(np.abs(a.data), (a,), lambda grad: (grad * np.sign(a.data),))


def relu(a: Tensor) -> Tensor:
    mask = a.data > 0
    return Tensor.from_op(a.data * mask, (a,), lambda grad: (grad * mask,))


def sigmoid(a: Tensor) -> Tensor:
    # exp(-|x|) never overflows; the two branches are the same function
    z = np.exp(-np.abs(a.data))
    out = np.where(a.data >= 0, 1 / (1 + z), z / (1 + z)).astype(a.dtype, copy=False)
    return Tensor.from_op(out, (a,), lambda grad: (grad * out * (1 - out),))


def tanh(a: Tensor) -> Tensor:
    out = np.tanh(a.data)
    return Tensor.from_op(out, (a,), lambda grad: (grad * (1 - out * out),))


def cast(a: Tensor, dtype: np.dtype) -> Tensor:
    source_dtype = a.dtype
    return Tensor.from_op(
        a.data.astype(dtype), (a,), lambda grad: (grad.astype(source_dtype, copy=False),)
    )
