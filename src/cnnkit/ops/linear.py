"""Affine map and dropout: forward and backward side by side."""

from __future__ import annotations

__all__: list[str] = []
