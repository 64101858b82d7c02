"""Differentiable primitives. Each op's forward and backward live side by side.

Ops trust their inputs: argument checking happens at the API edge (``cnnkit.nn.functional``).
"""

from cnnkit.ops.activation import *
from cnnkit.ops.conv import *
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
from cnnkit.ops.linear import *
from cnnkit.ops.loss import *
from cnnkit.ops.norm import *
from cnnkit.ops.pool import *
from cnnkit.ops.reduce import max, mean, sum
from cnnkit.ops.resample import *
from cnnkit.ops.shape import flatten, getitem, permute, reshape, transpose
