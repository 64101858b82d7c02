"""The functional API for activations, softmax, elementwise helpers and padding."""

from __future__ import annotations

__all__: list[str] = []
