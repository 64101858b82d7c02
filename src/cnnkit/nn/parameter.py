"""``Parameter``: a Tensor that a Module registers as learnable when assigned as an attribute."""

from __future__ import annotations

from typing import Any

from cnnkit.tensor import Tensor


class Parameter(Tensor):
    """A learnable Tensor (``torch.nn.Parameter`` counterpart).

    Assigning a Parameter to a Module attribute registers it, so it appears in
    ``parameters()`` and ``state_dict()``. A Parameter built from a Tensor shares its array.

    Args:
        data: a Tensor or array-like (see ``Tensor``).
        requires_grad: whether the parameter is trained. Default: True.

    Example:
        >>> import numpy as np
        >>> w = Parameter(np.zeros((2, 3), dtype=np.float32))
        >>> w.requires_grad
        True
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = []
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        # (no __dict__ state, slot state): copies and pickles keep the gradient, as torch's do.
        return (Parameter, (self.data, self.requires_grad), (None, {"grad": self.grad}))
