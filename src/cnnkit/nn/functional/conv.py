"""The functional API for convolution, transposed convolution, unfold and fold."""

from __future__ import annotations

__all__: list[str] = []
