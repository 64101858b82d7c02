"""The functional API for max, average and adaptive pooling, max_unpool."""

from __future__ import annotations

__all__: list[str] = []
