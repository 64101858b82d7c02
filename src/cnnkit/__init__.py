"""cnnkit: convolutional neural networks from first principles on NumPy."""

from cnnkit.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

__all__ = ["Tensor", "enable_grad", "is_grad_enabled", "no_grad", "tensor", "__version__"]
