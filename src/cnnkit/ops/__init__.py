"""Differentiable primitives. Each op's forward and backward live side by side.

Ops trust their inputs: argument checking happens at the API edge (``cnnkit.nn.functional``,
``cnnkit.functions``).
"""

from cnnkit.ops.activation import *
from cnnkit.ops.conv import *
from cnnkit.ops.elementwise import *
from cnnkit.ops.linalg import *
from cnnkit.ops.linear import *
from cnnkit.ops.loss import *
from cnnkit.ops.norm import *
from cnnkit.ops.pool import *
from cnnkit.ops.reduce import *
from cnnkit.ops.resample import *
from cnnkit.ops.shape import *
