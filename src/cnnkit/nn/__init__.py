"""Neural-network building blocks: layers, ``functional`` and ``init``."""

from cnnkit.nn import functional, init, utils
from cnnkit.nn.modules import *
from cnnkit.nn.parameter import Parameter
