"""Classic image processing on the engine's convolution: filters, edges, corners, file I/O.

Layouts: a NumPy array (H, W) or (H, W, C) in gives a NumPy array of the same shape out
(channels filtered independently); a Tensor (N, C, H, W) in gives a Tensor out, recorded for
autograd, so any filter can sit inside a model. Boundary modes follow scipy.ndimage.
"""

from cnnkit.image.features import *
from cnnkit.image.filters import *
from cnnkit.image.io import *
