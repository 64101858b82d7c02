"""Differentiable primitives. Each op's forward and backward live side by side.

Ops trust their inputs: argument checking happens at the API edge (``cnnkit.nn.functional``).
"""

from cnnkit.ops.elementwise import (
    abs,
    add,
    cast,
    div,
    exp,
    log,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from cnnkit.ops.linalg import matmul
from cnnkit.ops.reduce import max, mean, sum
from cnnkit.ops.shape import flatten, getitem, permute, reshape, transpose

__all__ = [
    "abs", "add", "cast", "div", "exp", "flatten", "getitem", "log", "matmul", "max", "mean",
    "mul", "neg", "permute", "pow", "relu", "reshape", "sigmoid", "sqrt", "sub", "sum", "tanh",
    "transpose",
]
