"""Neural-network building blocks: ``cnnkit.nn.functional`` and (later) modules."""

from cnnkit.nn import functional

__all__ = ["functional"]
