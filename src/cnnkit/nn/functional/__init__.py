"""PyTorch-shaped functional API: ``import cnnkit.nn.functional as F``.

Same names, argument names and order as ``torch.nn.functional``. This is the API edge: every
function checks its arguments and raises a ValueError/TypeError naming the bad one, then calls
an op from ``cnnkit.ops``, which trusts its inputs. One file per family of functions.
"""

from cnnkit.nn.functional.activation import *
from cnnkit.nn.functional.conv import *
from cnnkit.nn.functional.loss import *
from cnnkit.nn.functional.normalization import *
from cnnkit.nn.functional.pooling import *
from cnnkit.nn.functional.sampling import *
