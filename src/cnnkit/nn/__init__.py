"""Neural-network building blocks: layers, ``functional`` and ``init``."""

from cnnkit.nn import functional
from cnnkit.nn.modules import *
