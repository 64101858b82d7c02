"""N-d convolution, transposed convolution, im2col (unfold), col2im (fold): fwd and bwd."""

from __future__ import annotations

__all__: list[str] = []
