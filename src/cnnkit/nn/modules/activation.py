"""Activation layers: thin modules over ``cnnkit.nn.functional``'s activations."""

from __future__ import annotations

import warnings

from cnnkit.nn import functional as F
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "LogSoftmax",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
]


def _inplace_suffix(inplace: bool, first: bool = False) -> str:
    # ``inplace`` is accepted for PyTorch compatibility; outputs are always new tensors.
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class ReLU(Module):
    """max(0, x), elementwise.

    Args:
        inplace: accepted for PyTorch compatibility; the output is always a new tensor.

    Shape:
        Any; output same as input.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace_suffix(self.inplace, first=True)


class LeakyReLU(Module):
    """x for x >= 0, negative_slope * x otherwise.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
        inplace: accepted for PyTorch compatibility.

    Shape:
        Any; output same as input.
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    Args:
        alpha: saturation value for negative inputs. Default: 1.0.
        inplace: accepted for PyTorch compatibility.

    Shape:
        Any; output same as input.
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class GELU(Module):
    """x * Φ(x), Φ the standard normal CDF; ``approximate="tanh"`` uses the tanh formula.

    Args:
        approximate: ``"none"`` (exact, default) or ``"tanh"``.

    Shape:
        Any; output same as input.
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) (swish).

    Args:
        inplace: accepted for PyTorch compatibility.

    Shape:
        Any; output same as input.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)

    def extra_repr(self) -> str:
        return _inplace_suffix(self.inplace, first=True)


class Sigmoid(Module):
    """1 / (1 + exp(-x)).

    Shape:
        Any; output same as input.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent.

    Shape:
        Any; output same as input.
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear above ``threshold`` for stability.

    Args:
        beta: sharpness. Default: 1.0.
        threshold: above beta * x > threshold the output is x. Default: 20.0.

    Shape:
        Any; output same as input.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _legacy_softmax_dim(ndim: int, name: str) -> int:
    # PyTorch's rule when dim is omitted: 0 for 0-, 1- and 3-D input, else 1 (deprecated).
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x_i) / Σ_j exp(x_j) along ``dim``.

    Args:
        dim: the dimension that sums to 1.

    Shape:
        Any; output same as input.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        dim = _legacy_softmax_dim(input.ndim, "softmax") if self.dim is None else self.dim
        return F.softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed stably.

    Args:
        dim: the dimension to normalise over.

    Shape:
        Any; output same as input.
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        dim = _legacy_softmax_dim(input.ndim, "log_softmax") if self.dim is None else self.dim
        return F.log_softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
