"""``Linear`` and ``Identity``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cnnkit.nn import functional as F
from cnnkit.nn import init
from cnnkit.nn._checks import factory_dtype
from cnnkit.nn.modules.module import Module
from cnnkit.nn.parameter import Parameter
from cnnkit.tensor import Tensor

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged; arguments are accepted and ignored (a placeholder layer).

    Shape:
        Any; output same as input.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Affine map y = x Wᵀ + b over the last dimension.

    Weight and bias start as in PyTorch: U(±1/sqrt(in_features)) (kaiming_uniform_ with
    a = sqrt(5) for the weight).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: whether to learn an additive bias. Default: True.
        device: None or ``"cpu"``.
        dtype: parameter dtype. Default: float32.

    Shape:
        - Input: (*, in_features).
        - Output: (*, out_features).

    Attributes:
        weight: (out_features, in_features).
        bias: (out_features,).

    Example:
        >>> import numpy as np
        >>> import cnnkit
        >>> from cnnkit import nn
        >>> nn.Linear(20, 30)(cnnkit.tensor(np.zeros((128, 20), np.float32))).shape
        (128, 30)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        dtype = factory_dtype(device, dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new weights and bias from PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
