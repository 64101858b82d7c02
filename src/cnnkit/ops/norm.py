"""Batch, group and layer normalisation: forward and backward side by side."""

from __future__ import annotations

__all__: list[str] = []
