"""Layers (``nn.Module`` subclasses), one file per family, as in ``torch.nn.modules``."""

from cnnkit.nn.modules.activation import *
from cnnkit.nn.modules.container import *
from cnnkit.nn.modules.conv import *
from cnnkit.nn.modules.dropout import *
from cnnkit.nn.modules.flatten import *
from cnnkit.nn.modules.linear import *
from cnnkit.nn.modules.loss import *
from cnnkit.nn.modules.module import *
from cnnkit.nn.modules.normalization import *
from cnnkit.nn.modules.padding import *
from cnnkit.nn.modules.pooling import *
from cnnkit.nn.modules.sampling import *
