"""cnnkit: convolutional neural networks from first principles on NumPy."""

from cnnkit import nn, optim
from cnnkit._memory import keep_freed_memory
from cnnkit.functions import *
from cnnkit.ops._parallel import get_num_threads, set_num_threads
from cnnkit.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

keep_freed_memory()
